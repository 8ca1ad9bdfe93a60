package dev.sluice.testkit;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;

/**
 * A real Prometheus Alertmanager (Debian's {@code prometheus-alertmanager}) on a free port of 127.0.0.1, clustering
 * off, routing everything to a receiver that sends nothing: what it lists through its own API
 * ({@code GET /api/v2/alerts}) is what an on-call engineer would be paged about.
 */
public final class Alertmanager implements AutoCloseable {

    public static final Path BINARY = Path.of("/usr/bin/prometheus-alertmanager");

    private final Process process;
    private final Path dir;
    private final URI base;

    private Alertmanager(Path dir) throws IOException {
        this.dir = dir;
        int port = LocalPorts.free();
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

    public static boolean installed() {
        return Files.isExecutable(BINARY);
    }

    /** Starts one in {@code dir} and waits (up to 30 s) until it is ready; it is stopped if it never is. */
    public static Alertmanager start(Path dir) {
        Alertmanager am;
        try {
            am = new Alertmanager(Files.createDirectories(dir));
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + BINARY, e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!JsonHttp.ok(am.base, "/-/ready")) {
            if (System.nanoTime() > deadline || !am.process.isAlive()) {
                am.close();
                throw new IllegalStateException("Alertmanager did not become ready in 30 s: " + am.log());
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                am.close();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while Alertmanager started", e);
            }
        }
        return am;
    }

    /** Where a webhook posts: {@code .../api/v2/alerts}. */
    public URI alertsApi() {
        return base.resolve("/api/v2/alerts");
    }

    /** The alerts it lists: active, silenced, inhibited or unprocessed, not resolved. */
    public List<JsonNode> alerts() {
        return StreamSupport.stream(JsonHttp.json(base, "/api/v2/alerts").spliterator(), false).toList();
    }

    public String log() {
        try {
            return Files.readString(dir.resolve("alertmanager.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
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
