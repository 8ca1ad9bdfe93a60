package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;

import static org.awaitility.Awaitility.await;

/**
 * A real Prometheus Alertmanager (Debian's {@code prometheus-alertmanager}) on a free port of 127.0.0.1, clustering
 * off, routing everything to a receiver that sends nothing: what it lists through its own API
 * ({@code GET /api/v2/alerts}) is what an on-call engineer would be paged about.
 */
final class Alertmanager implements AutoCloseable {

    static final Path BINARY = Path.of("/usr/bin/prometheus-alertmanager");

    private final Process process;
    private final Path dir;
    private final URI base;

    private Alertmanager(Path dir) throws IOException {
        this.dir = dir;
        int port = freePort();
        Path config = Files.writeString(dir.resolve("alertmanager.yml"), """
                route:
                  receiver: blackhole
                  group_wait: 1s
                receivers:
                  - name: blackhole
                """);
        this.base = URI.create("http://127.0.0.1:" + port);
        this.process = new ProcessBuilder(BINARY.toString(), "--config.file=" + config,
                "--storage.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port,
                "--cluster.listen-address=", "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(dir.resolve("alertmanager.log").toFile()).start();
    }

    static boolean installed() {
        return Files.isExecutable(BINARY);
    }

    /** Starts one in {@code dir} and waits until it is ready. */
    static Alertmanager start(Path dir) {
        Alertmanager am;
        try {
            am = new Alertmanager(Files.createDirectories(dir));
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + BINARY, e);
        }
        try {
            await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30))
                    .until(() -> Http.ok(am.base, "/-/ready"));
        } catch (RuntimeException | AssertionError e) {
            am.close();
            throw e;
        }
        return am;
    }

    /** Where the coordinator's webhook posts: {@code .../api/v2/alerts}. */
    URI alertsApi() {
        return base.resolve("/api/v2/alerts");
    }

    /** The alerts it lists (active, silenced, inhibited or unprocessed: not resolved) with this alertname and node. */
    List<JsonNode> alerts(String alertname, String node) {
        JsonNode all = Http.json(base, "/api/v2/alerts");
        return StreamSupport.stream(all.spliterator(), false)
                .filter(a -> Http.matches(a.path("labels"), alertname, node)).toList();
    }

    String log() {
        try {
            return Files.readString(dir.resolve("alertmanager.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
