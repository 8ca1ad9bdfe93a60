package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The no-Docker launcher, {@code deploy/local/sluice-local.sh}, as a user runs it: {@code up 2} starts Redis, Kafka,
 * the Hub simulator, two worker nodes forming one Hazelcast cluster and the coordinator on loopback, and waits
 * until they are ready; {@code status} reports them; jobs enqueued through it get done within the Hub's limits;
 * {@code down --purge} stops every process it started (by its pid files) and frees every port; a second
 * {@code down} finds nothing to stop.
 *
 * <p>Runs the shaded jars (sluice-worker.jar and the others under each module's target), which the reactor's
 * {@code package} phase builds before this module's tests under {@code ./mvnw verify}. Needs what the launcher
 * needs: redis-server and curl on the PATH.
 */
class LocalLauncherTest {

    private static final Path REPO = findRepo();
    private static final Path SCRIPT = REPO.resolve("deploy/local/sluice-local.sh");
    private static final List<String> SERVICES = List.of("redis", "kafka", "hub", "worker-1", "worker-2", "coordinator");

    @TempDir
    Path run;

    private int base;
    private final List<Long> pids = new ArrayList<>();

    private static Path findRepo() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.exists(dir.resolve("deploy/local/sluice-local.sh"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("deploy/local/sluice-local.sh not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }

    @AfterEach
    void leaveNothingRunning() throws Exception {
        if (base == 0) {
            return;
        }
        if (pids.stream().anyMatch(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false))) {
            launcher(Duration.ofSeconds(120), "down");
        }
        for (long pid : pids) { // the launcher's own processes, if its down did not stop them
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void upStatusEnqueueAndDownOnLoopback() throws Exception {
        for (String jar : List.of("worker-node/target/sluice-worker.jar", "hub-simulator/target/sluice-hub-simulator.jar",
                "coordinator/target/sluice-coordinator.jar")) {
            Assumptions.assumeTrue(Files.exists(REPO.resolve(jar)),
                    () -> REPO.resolve(jar) + " is missing: the launcher runs the shaded jars, which `./mvnw verify` "
                            + "(or package) builds before this module's tests");
        }

        Result up = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            base = freeBase();
            up = launcher(Duration.ofSeconds(300), "up", "2");
            if (up.exit == 0 || !up.output.contains("is in use")) {
                break;
            }
        }
        assertThat(up.exit).as("up 2 (port base %d):%n%s", base, up.output).isZero();
        assertThat(up.output).contains("up: 2 worker node(s)");
        for (String service : SERVICES) {
            Path pidFile = run.resolve("pids/" + service + ".pid");
            assertThat(pidFile).as(service + "'s pid file").exists();
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            pids.add(pid);
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).as(service + " (pid " + pid + ") runs").contains(true);
        }

        // One Hazelcast cluster of both nodes: they keep the Hub's limits fleet-wide.
        URI worker1 = URI.create("http://127.0.0.1:" + (base + 8101) + "/");
        JsonNode cluster = Http.json(worker1, "/api/status").path("cluster");
        assertThat(cluster.path("members").asInt()).as("cluster members seen by worker-1: %s", cluster).isEqualTo(2);

        Result status = launcher(Duration.ofSeconds(60), "status");
        assertThat(status.exit).as(status.output).isZero();
        for (String service : SERVICES) {
            assertThat(status.output).as(status.output).containsPattern("(?m)^" + service + " +running ");
        }

        Result enqueue = launcher(Duration.ofSeconds(120), "enqueue", "1..40");
        assertThat(enqueue.exit).as(enqueue.output).isZero();
        try (Jedis redis = new Jedis("127.0.0.1", base + 6379)) {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                    .until(() -> redis.keys("sluice:result:hub-fetch:*").size() == 40);
            assertThat(redis.xlen("sluice:dead")).isZero();
        }
        JsonNode hub = Http.json(URI.create("http://127.0.0.1:" + (base + 8080) + "/"), "/admin/stats");
        assertThat(hub.path("violations").path("total").asInt()).as("Hub: %s", hub).isZero();
        Result env = launcher(Duration.ofSeconds(30), "env");
        assertThat(env.output).contains("SLUICE_LOCAL_REDIS_PORT=" + (base + 6379),
                "SLUICE_LOCAL_COORDINATOR_URL=http://127.0.0.1:" + (base + 8090));

        Result down = launcher(Duration.ofSeconds(150), "down", "--purge");
        assertThat(down.exit).as(down.output).isZero();
        for (long pid : pids) {
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true));
        }
        for (int port : ports()) {
            assertThat(free(port)).as("port " + port + " free after down").isTrue();
        }
        assertThat(run.resolve("pids")).doesNotExist();
        assertThat(run.resolve("redis")).doesNotExist();

        Result again = launcher(Duration.ofSeconds(60), "down");
        assertThat(again.exit).as(again.output).isZero();
        assertThat(again.output).contains("nothing to stop");
    }

    private record Result(int exit, String output) {
    }

    private Result launcher(Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        Path log = Files.createTempFile(run.getParent(), "sluice-local-", ".log");
        ProcessBuilder builder = new ProcessBuilder(command).directory(REPO.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = builder.environment();
        env.put("SLUICE_LOCAL_DIR", run.toString());
        env.put("SLUICE_LOCAL_PORT_BASE", Integer.toString(base));
        env.put("JAVA_HOME", System.getProperty("java.home"));
        Process process = builder.start();
        if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw new AssertionError("sluice-local.sh " + String.join(" ", args) + " did not finish within " + timeout
                    + ":\n" + Files.readString(log, StandardCharsets.UTF_8));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Files.deleteIfExists(log);
        return new Result(process.exitValue(), output);
    }

    /** The launcher's ports for 2 workers, as sluice-local.sh computes them from its port base. */
    private List<Integer> ports() {
        return Stream.of(6379, 9092, 9093, 8080, 8090, 8101, 8102, 5701, 5702).map(p -> base + p).toList();
    }

    /** A port base (thousands, below the usual ephemeral range) where every port the launcher needs is free. */
    private int freeBase() {
        for (int i = 0; i < 50; i++) {
            base = 1000 * ThreadLocalRandom.current().nextInt(11, 23);
            if (ports().stream().allMatch(LocalLauncherTest::free)) {
                return base;
            }
        }
        throw new IllegalStateException("no port base with every launcher port free");
    }

    private static boolean free(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
