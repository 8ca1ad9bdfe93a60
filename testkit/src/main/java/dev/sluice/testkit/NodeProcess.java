package dev.sluice.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;

/**
 * A JVM program (a main class on the test's classpath, or an executable jar) running as a separate OS
 * process, so a test can kill it the way production would: SIGKILL mid-work, SIGTERM for a graceful stop.
 *
 * <pre>{@code
 * try (NodeProcess node = NodeProcess.forMainClass(Main.class).args("--config", toml).env("SLUICE_REDIS_URL", url).start()) {
 *     node.awaitLog(Pattern.compile("worker started"), Duration.ofSeconds(30));
 *     node.kill();
 * }
 * }</pre>
 *
 * <p>The child runs {@code java} from the test JVM's own {@code java.home} with an explicit heap; stdout and
 * stderr both go to one log file. {@link #close()} kills it if it still runs and deletes the log unless it
 * was given with {@link Builder#logFile(Path)}. All methods are thread-safe.
 */
public final class NodeProcess implements AutoCloseable {

    private static final Duration KILL_WAIT = Duration.ofSeconds(30);
    private static final int LOG_TAIL_LINES = 40;

    private final String name;
    private final List<String> command;
    private final Path logFile;
    private final boolean ownsLog;
    private final Process process;

    private NodeProcess(String name, List<String> command, Path logFile, boolean ownsLog, Process process) {
        this.name = name;
        this.command = List.copyOf(command);
        this.logFile = logFile;
        this.ownsLog = ownsLog;
        this.process = process;
    }

    /** A process running {@code mainClass} with the test JVM's classpath. */
    public static Builder forMainClass(Class<?> mainClass) {
        return forMainClass(mainClass.getName());
    }

    /** A process running the named main class with the test JVM's classpath. */
    public static Builder forMainClass(String mainClassName) {
        return new Builder(requireText(mainClassName, "mainClassName"), null);
    }

    /** A process running {@code java -jar jar}. */
    public static Builder forJar(Path jar) {
        return new Builder(null, Objects.requireNonNull(jar, "jar"));
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The exit code if the process has ended. */
    public OptionalInt exitCode() {
        return process.isAlive() ? OptionalInt.empty() : OptionalInt.of(process.exitValue());
    }

    /**
     * Sends SIGKILL and waits for the process to end: no shutdown hooks run. On Linux its exit code is then 137.
     */
    public void kill() {
        process.destroyForcibly();
        waitFor(KILL_WAIT);
    }

    /** Sends SIGTERM and returns at once: shutdown hooks run. {@link #waitFor(Duration)} for the exit code. */
    public void terminate() {
        process.destroy();
    }

    /**
     * Waits for the process to end and returns its exit code (128 + signal number when a signal ended it).
     *
     * @throws org.opentest4j.AssertionFailedError if it still runs after {@code timeout} (it keeps running)
     */
    public int waitFor(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                return Assertions.fail(name + " (pid " + pid() + ") still runs after " + timeout + describeLog());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + name + " (pid " + pid() + ")", e);
        }
        return process.exitValue();
    }

    /** Everything the process wrote to stdout and stderr so far. */
    public String log() {
        try {
            return Files.readString(logFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the log of " + name + ": " + logFile, e);
        }
    }

    public Path logFile() {
        return logFile;
    }

    /**
     * Waits until a line of the log matches {@code pattern} ({@link java.util.regex.Matcher#find()}) and returns
     * that line.
     *
     * @throws org.opentest4j.AssertionFailedError with the end of the log if no line matches within {@code timeout},
     *         or the process ends without writing one
     */
    public String awaitLog(Pattern pattern, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            // Read the exit state first: a process that ended has flushed all it will ever write.
            boolean ended = !process.isAlive();
            for (String line : log().split("\\R")) {
                if (pattern.matcher(line).find()) {
                    return line;
                }
            }
            if (ended) {
                return Assertions.fail(name + " (pid " + pid() + ") exited with " + process.exitValue()
                        + " without logging a line matching /" + pattern + "/" + describeLog());
            }
            if (System.nanoTime() > deadline) {
                return Assertions.fail(name + " (pid " + pid() + ") logged no line matching /" + pattern + "/ within "
                        + timeout + describeLog());
            }
            try {
                Thread.sleep(25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the log of " + name, e);
            }
        }
    }

    /** The command line it was started with. */
    public List<String> command() {
        return command;
    }

    public String name() {
        return name;
    }

    /** Kills the process if it still runs and deletes a log file the testkit chose. Idempotent. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (ownsLog) {
            try {
                Files.deleteIfExists(logFile);
            } catch (IOException e) {
                throw new UncheckedIOException("could not delete the log of " + name + ": " + logFile, e);
            }
        }
    }

    /** The last lines of the log, for failure messages. */
    String logTail() {
        return ScratchDirs.tail(logFile, LOG_TAIL_LINES);
    }

    private String describeLog() {
        return "; last lines of " + logFile + ":" + System.lineSeparator() + logTail();
    }

    @Override
    public String toString() {
        return "NodeProcess[" + name + ", pid " + pid() + (isAlive() ? ", alive" : ", exited " + process.exitValue()) + "]";
    }

    private static String requireText(String value, String what) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank, but was '" + value + "'");
        }
        return value;
    }

    /** Builds and starts a {@link NodeProcess}. */
    public static final class Builder {
        private final String mainClass;
        private final Path jar;
        private final List<String> args = new ArrayList<>();
        private final List<String> jvmArgs = new ArrayList<>();
        private final List<String> wrapper = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private String maxHeap = "256m";
        private String classpath = System.getProperty("java.class.path");
        private Path workingDir;
        private Path logFile;
        private String name;

        private Builder(String mainClass, Path jar) {
            this.mainClass = mainClass;
            this.jar = jar;
        }

        /** Program arguments, after the main class or jar. */
        public Builder args(String... args) {
            this.args.addAll(Arrays.asList(args));
            return this;
        }

        /** JVM options, before the main class or jar (the heap has its own setter). */
        public Builder jvmArgs(String... jvmArgs) {
            this.jvmArgs.addAll(Arrays.asList(jvmArgs));
            return this;
        }

        /**
         * A command the JVM runs under, which must exec it in its own place so that the process's pid is the JVM's
         * (kill and terminate signal it): e.g. {@code ip netns exec NAME} to run the node in a network namespace.
         */
        public Builder wrapper(String... command) {
            wrapper.addAll(Arrays.asList(command));
            return this;
        }

        /** An environment variable on top of the test JVM's environment. */
        public Builder env(String key, String value) {
            env.put(requireText(key, "env key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** {@code -Xmx}, as {@code 256m} or {@code 1g}; default 256m. */
        public Builder maxHeap(String maxHeap) {
            if (maxHeap == null || !maxHeap.matches("\\d+[kKmMgG]?")) {
                throw new IllegalArgumentException("maxHeap must look like 256m or 1g, but was '" + maxHeap + "'");
            }
            this.maxHeap = maxHeap;
            return this;
        }

        /** The classpath for a main class; default the test JVM's {@code java.class.path}. */
        public Builder classpath(String classpath) {
            this.classpath = requireText(classpath, "classpath");
            return this;
        }

        /** The working directory; default the test JVM's. */
        public Builder workingDir(Path workingDir) {
            this.workingDir = Objects.requireNonNull(workingDir, "workingDir");
            return this;
        }

        /** Where stdout and stderr go (appended); default a temporary file deleted by {@link NodeProcess#close()}. */
        public Builder logFile(Path logFile) {
            this.logFile = Objects.requireNonNull(logFile, "logFile");
            return this;
        }

        /** A name for messages and the log file; default the main class's simple name or the jar's file name. */
        public Builder name(String name) {
            this.name = requireText(name, "name");
            return this;
        }

        /** Starts the process; it runs until it ends, or until {@link NodeProcess#kill()} or close. */
        public NodeProcess start() {
            String displayName = name != null ? name
                    : mainClass != null ? mainClass.substring(mainClass.lastIndexOf('.') + 1) : jar.getFileName().toString();
            List<String> command = new ArrayList<>(wrapper);
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-Xmx" + maxHeap);
            // As every launcher of the project does: an out-of-memory JVM exits instead of limping on.
            command.add("-XX:+ExitOnOutOfMemoryError");
            command.addAll(jvmArgs);
            if (mainClass != null) {
                command.add("-cp");
                command.add(classpath);
                command.add(mainClass);
            } else {
                command.add("-jar");
                command.add(jar.toString());
            }
            command.addAll(args);

            boolean ownsLog = logFile == null;
            Path log;
            try {
                log = ownsLog ? Files.createTempFile("sluice-node-" + displayName.replaceAll("[^A-Za-z0-9_.-]", "_") + "-", ".log")
                        : logFile;
            } catch (IOException e) {
                throw new UncheckedIOException("could not create a log file for " + displayName, e);
            }
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            if (workingDir != null) {
                builder.directory(workingDir.toFile());
            }
            builder.environment().putAll(env);
            Process process;
            try {
                process = ChildProcesses.register(builder.start());
            } catch (IOException e) {
                throw new IllegalStateException("could not start " + displayName + ": " + String.join(" ", command), e);
            }
            return new NodeProcess(displayName, command, log, ownsLog, process);
        }
    }
}
