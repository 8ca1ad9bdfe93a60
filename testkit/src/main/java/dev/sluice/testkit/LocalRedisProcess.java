package dev.sluice.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * {@code redis-server} as a child process of the test JVM. The port is chosen on the first start and kept, as
 * is the data directory, so a restart after a stop or a SIGKILL finds the same AOF.
 */
final class LocalRedisProcess implements RedisServer.Backend {

    private static final int PORT_ATTEMPTS = 5;
    private static final int LOG_TAIL_LINES = 30;

    private final RedisServer.Settings settings;
    private Path executable;
    private Path dir;
    private Path log;
    private int port;
    private Process process;

    LocalRedisProcess(RedisServer.Settings settings) {
        this.settings = settings;
    }

    @Override
    public void start() {
        if (executable == null) {
            executable = RedisServer.findExecutable(settings.executable(), System.getenv("PATH"));
        }
        if (dir == null) {
            dir = ScratchDirs.create("sluice-redis-");
            log = dir.resolve("redis.log");
        }
        if (port != 0) {
            if (launch() != Launch.UP) {
                throw failure("did not come up again on port " + port + ", the port it had");
            }
            return;
        }
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            port = LocalPorts.free();
            switch (launch()) {
                case UP -> {
                    return;
                }
                case PORT_TAKEN -> {
                    // Someone bound the port after LocalPorts handed it out: try another.
                }
                case EXITED -> throw failure("exited during startup");
            }
        }
        throw failure("found no free port in " + PORT_ATTEMPTS + " attempts");
    }

    private enum Launch { UP, EXITED, PORT_TAKEN }

    /** Starts the process and waits until it answers PING, exits, or times out (throws). */
    private Launch launch() {
        List<String> command = new ArrayList<>(List.of(
                executable.toString(),
                "--port", Integer.toString(port),
                "--bind", LocalPorts.LOOPBACK,
                "--protected-mode", "no",
                "--daemonize", "no",
                "--dir", dir.toString(),
                "--save", "",
                "--appendonly", settings.appendOnly() ? "yes" : "no",
                "--appendfsync", settings.appendFsync().argument(),
                "--logfile", ""));
        command.addAll(settings.extraArgs());
        try {
            appendToLog("---- sluice-testkit: " + (settings.processEnv().isEmpty() ? "" : settings.processEnv() + " ")
                    + String.join(" ", command) + System.lineSeparator());
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            builder.environment().putAll(settings.processEnv());
            process = ChildProcesses.register(builder.start());
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + String.join(" ", command), e);
        }
        Process started = process;
        boolean up;
        try {
            up = RedisServer.awaitPing(this, settings.startupTimeout(), started::isAlive, this::diagnostics);
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
        if (up && answersAsProcess(started)) {
            return Launch.UP;
        }
        // Either it exited, or the server that answered is not ours (another one took the port).
        kill();
        return !up && !ScratchDirs.tail(log, LOG_TAIL_LINES).contains("Address already in use")
                ? Launch.EXITED : Launch.PORT_TAKEN;
    }

    private boolean answersAsProcess(Process expected) {
        try (Jedis jedis = connect(2_000)) {
            return jedis.info("server").contains("process_id:" + expected.pid() + "\r\n");
        } catch (JedisException e) {
            return false;
        }
    }

    @Override
    public void stop() {
        if (process == null) {
            return;
        }
        // SIGTERM makes Redis flush and fsync the AOF and exit; it does not write an RDB since save is "".
        process.destroy();
        if (!waitForExit(process, 15)) {
            process.destroyForcibly();
            waitForExit(process);
        }
        process = null;
    }

    @Override
    public void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        waitForExit(process);
        process = null;
    }

    @Override
    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    @Override
    public String host() {
        return LocalPorts.LOOPBACK;
    }

    @Override
    public int port() {
        return port;
    }

    Path dir() {
        return dir;
    }

    OptionalLong pid() {
        return process != null && process.isAlive() ? OptionalLong.of(process.pid()) : OptionalLong.empty();
    }

    @Override
    public void close() {
        kill();
        ScratchDirs.delete(dir);
    }

    private IllegalStateException failure(String what) {
        return new IllegalStateException("redis-server " + what + diagnostics());
    }

    private String diagnostics() {
        return "; data dir " + dir + ", last lines of " + log + ":" + System.lineSeparator()
                + ScratchDirs.tail(log, LOG_TAIL_LINES);
    }

    private void appendToLog(String line) throws IOException {
        Files.writeString(log, line, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static void waitForExit(Process p) {
        if (!waitForExit(p, 30)) {
            throw new IllegalStateException("redis-server pid " + p.pid() + " did not exit within 30 s of SIGKILL");
        }
    }

    private static boolean waitForExit(Process p, int seconds) {
        try {
            return p.waitFor(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for redis-server pid " + p.pid() + " to exit", e);
        }
    }
}
