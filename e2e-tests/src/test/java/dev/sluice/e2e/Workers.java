package dev.sluice.e2e;

import dev.sluice.testkit.NodeProcess;
import dev.sluice.worker.Main;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Worker nodes as real OS processes ({@code dev.sluice.worker.Main worker}, -Xmx256m), configured through
 * {@code SLUICE_*} environment overrides only: events to Kafka on, a heartbeat every second, the admin endpoint on a
 * free port of 127.0.0.1, Hub limits far above what the tests use so the limiter never paces them, and (where the
 * node has one) its Hazelcast member alone in a cluster of its own on a free port.
 */
final class Workers {

    private Workers() {
    }

    /** A worker on {@code redisUrl} publishing to {@code eventsTopic}; add env overrides, then start it. */
    static NodeProcess.Builder worker(String nodeId, String redisUrl, String bootstrapServers, String eventsTopic,
                                      String hubBaseUrl) {
        int clusterPort = freePort();
        return NodeProcess.forMainClass(Main.class).args("worker")
                .name(nodeId)
                .maxHeap("256m")
                .env("SLUICE_NODE_ID", nodeId)
                .env("SLUICE_NODE_HEARTBEAT_INTERVAL_SECS", "1")
                .env("SLUICE_REDIS_URL", redisUrl)
                .env("SLUICE_HUB_BASE_URL", hubBaseUrl)
                .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "100000")
                .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "100")
                .env("SLUICE_KAFKA_ENABLED", "true")
                .env("SLUICE_KAFKA_BOOTSTRAP_SERVERS", bootstrapServers)
                .env("SLUICE_KAFKA_EVENTS_TOPIC", eventsTopic)
                // A standalone member of its own cluster on a free port (members bind without auto-increment): the
                // fleet limits are not under test here, and it never meets the members of other tests.
                .env("SLUICE_CLUSTER_NAME", ("e2e-" + nodeId + "-" + eventsTopic).replaceAll("[^A-Za-z0-9-]", "-"))
                .env("SLUICE_CLUSTER_BIND_ADDRESS", "127.0.0.1")
                .env("SLUICE_CLUSTER_PORT", Integer.toString(clusterPort))
                .env("SLUICE_CLUSTER_MEMBERS", "127.0.0.1:" + clusterPort)
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", "127.0.0.1");
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("could not find a free port", e);
        }
    }

    /** Starts the worker and waits until it says it started. */
    static NodeProcess startAndAwait(NodeProcess.Builder builder, String nodeId) {
        return awaitStarted(builder.start(), nodeId);
    }

    /** Waits until the worker says it started; kills it if it does not. */
    static NodeProcess awaitStarted(NodeProcess process, String nodeId) {
        try {
            process.awaitLog(Pattern.compile("node " + Pattern.quote(nodeId) + " started"), Duration.ofSeconds(90));
        } catch (RuntimeException | AssertionError e) {
            process.close();
            throw e;
        }
        return process;
    }

    /**
     * Whether the worker code on the classpath has a circuit breaker that can publish breaker-transition events: a
     * class under {@code dev.sluice.worker} with "Breaker" in its name. The Hub breaker lands on main from another
     * branch; until then the breaker end-to-end test is skipped.
     */
    static boolean hasCircuitBreaker() {
        Path location;
        try {
            location = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        try {
            if (Files.isDirectory(location)) {
                Path root = location.resolve("dev/sluice/worker");
                try (Stream<Path> files = Files.walk(root)) {
                    return files.anyMatch(f -> isBreakerClass(location.relativize(f).toString()));
                }
            }
            try (JarFile jar = new JarFile(location.toFile())) {
                for (Enumeration<JarEntry> entries = jar.entries(); entries.hasMoreElements(); ) {
                    if (isBreakerClass(entries.nextElement().getName())) {
                        return true;
                    }
                }
                return false;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list the worker classes in " + location, e);
        }
    }

    private static boolean isBreakerClass(String path) {
        String p = path.replace('\\', '/');
        return p.startsWith("dev/sluice/worker/") && p.endsWith(".class")
                && p.substring(p.lastIndexOf('/') + 1).contains("Breaker");
    }
}
