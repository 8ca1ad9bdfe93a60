package dev.sluice.coordinator.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Prometheus Alertmanager (Debian's {@code prometheus-alertmanager}) on a free port of 127.0.0.1, clustering
 * off, routing everything to a receiver that sends nothing: for checking that it accepts what the webhook posts.
 */
final class RealAlertmanager implements AutoCloseable {

    static final Path BINARY = Path.of("/usr/bin/prometheus-alertmanager");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    private final Process process;
    private final Path dir;
    private final URI base;

    RealAlertmanager(Path dir) throws IOException {
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

    /** {@code POST /api/v2/alerts} of this Alertmanager. */
    URI alertsApi() {
        return base.resolve("/api/v2/alerts");
    }

    boolean ready() {
        try {
            return CLIENT.send(HttpRequest.newBuilder(base.resolve("/-/ready")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The alerts it lists ({@code GET /api/v2/alerts}: the unresolved ones). */
    List<JsonNode> alerts() {
        try {
            String body = CLIENT.send(HttpRequest.newBuilder(alertsApi()).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return List.copyOf(JSON.readValue(body, JSON.getTypeFactory().constructCollectionType(List.class, JsonNode.class)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    String log() throws IOException {
        return Files.readString(dir.resolve("alertmanager.log"));
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
