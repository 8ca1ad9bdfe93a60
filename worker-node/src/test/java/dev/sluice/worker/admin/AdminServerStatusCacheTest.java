package dev.sluice.worker.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.MetricsConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code GET /api/status} needs no token and a worker's snapshot reads the fleet's permit table from the store: the
 * admin server takes at most one snapshot a second, however many requests arrive, and requests share a refresh.
 */
class AdminServerStatusCacheTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final MetricsConfig METRICS =
            ConfigLoader.parse("[metrics]\nport = 0\nbind = \"127.0.0.1\"\n", Map.of()).metrics();

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    /** Snapshots taken; each shows its own number as {@code inFlight}, so an answer tells which one it is. */
    private final AtomicInteger snapshots = new AtomicInteger();
    private volatile CountDownLatch entered = new CountDownLatch(0);
    private volatile CountDownLatch release = new CountDownLatch(0);
    private volatile RuntimeException failure;
    private final NodeStatusSource source = new NodeStatusSource() {
        @Override
        public Readiness readiness() {
            return Readiness.readyNow();
        }

        @Override
        public NodeStatus status() {
            int n = snapshots.incrementAndGet();
            entered.countDown();
            try {
                if (!release.await(10, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the test never released snapshot " + n);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            RuntimeException f = failure;
            if (f != null) {
                throw f;
            }
            return new NodeStatus("n1", true, new NodeStatus.Queue("stream", "sluice:jobs", "sluice"),
                    new NodeStatus.Pool(20, 1, 2, 0, 0.5, 0.95, 0, null), false, 0.2, n, List.of(), null, null, null, Map.of());
        }
    };
    /** A monotonic ticker the test moves; counts its reads. */
    private final AtomicLong nanos = new AtomicLong();
    private final AtomicInteger tickerReads = new AtomicInteger();
    private final LongSupplier ticker = () -> {
        tickerReads.incrementAndGet();
        return nanos.get();
    };
    private AdminServer server;

    @AfterEach
    void stop() {
        release.countDown();
        if (server != null) {
            server.stop();
        }
        http.close();
    }

    private HttpRequest status() {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/api/status")).build();
    }

    private HttpResponse<String> getStatus() throws IOException, InterruptedException {
        return http.send(status(), HttpResponse.BodyHandlers.ofString());
    }

    /** Which snapshot an answer is. */
    private static int snapshotOf(HttpResponse<String> r) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        return body.get("inFlight").asInt();
    }

    @Test
    void aFloodOfStatusRequestsTakesAtMostOneSnapshotPerSecond() throws Exception {
        server = new AdminServer(METRICS, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), source).start();
        long started = System.nanoTime();

        List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            flood.add(http.sendAsync(status(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> answer : flood) {
            assertThat(answer.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        long floodNanos = System.nanoTime() - started;
        assertThat(snapshots.get()).as("snapshots for 200 requests in %d ms", floodNanos / 1_000_000)
                .isBetween(1, (int) (floodNanos / 1_000_000_000L) + 1);

        // Requests for a little over two seconds more, on 8 threads: snapshots keep coming, one a second at most.
        long until = System.nanoTime() + Duration.ofMillis(2_200).toNanos();
        AtomicInteger answered = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> clients = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            clients.add(Thread.ofVirtual().start(() -> {
                try {
                    go.await();
                    while (System.nanoTime() < until) {
                        if (getStatus().statusCode() == 200) {
                            answered.incrementAndGet();
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        go.countDown();
        for (Thread c : clients) {
            c.join();
        }
        long elapsedNanos = System.nanoTime() - started;

        int taken = snapshots.get();
        assertThat(taken).as("snapshots for %d requests in %d ms", 200 + answered.get(), elapsedNanos / 1_000_000)
                .isLessThanOrEqualTo((int) (elapsedNanos / 1_000_000_000L) + 1)
                .isGreaterThanOrEqualTo(2);
        assertThat(answered.get()).isGreaterThan(8);
    }

    @Test
    void servesTheSameSnapshotUntilItIsASecondOld() throws Exception {
        server = new AdminServer(METRICS, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), source,
                Duration.ofSeconds(1), ticker).start();

        assertThat(snapshotOf(getStatus())).isEqualTo(1);
        nanos.addAndGet(Duration.ofMillis(999).toNanos());
        assertThat(snapshotOf(getStatus())).isEqualTo(1);
        assertThat(snapshotOf(getStatus())).isEqualTo(1);
        nanos.addAndGet(Duration.ofMillis(1).toNanos());
        assertThat(snapshotOf(getStatus())).isEqualTo(2);
        assertThat(snapshots.get()).isEqualTo(2);
    }

    @Test
    void requestsWaitingForASlowRefreshShareItEvenWhenItOutlastsTheMaxAge() throws Exception {
        server = new AdminServer(METRICS, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), source,
                Duration.ofSeconds(1), ticker).start();
        entered = new CountDownLatch(1);
        release = new CountDownLatch(1);

        CompletableFuture<HttpResponse<String>> first = http.sendAsync(status(), HttpResponse.BodyHandlers.ofString());
        assertThat(entered.await(10, TimeUnit.SECONDS)).as("the first request asks the node").isTrue();
        int readsByFirst = tickerReads.get();
        List<CompletableFuture<HttpResponse<String>>> waiting = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            waiting.add(http.sendAsync(status(), HttpResponse.BodyHandlers.ofString()));
        }
        // Each request reads the ticker once before it waits for the refresh under way.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
                .until(() -> tickerReads.get() >= readsByFirst + 20);
        nanos.addAndGet(Duration.ofSeconds(5).toNanos());
        release.countDown();

        assertThat(snapshotOf(first.get(10, TimeUnit.SECONDS))).isEqualTo(1);
        for (CompletableFuture<HttpResponse<String>> w : waiting) {
            assertThat(snapshotOf(w.get(10, TimeUnit.SECONDS))).isEqualTo(1);
        }
        assertThat(snapshots.get()).isEqualTo(1);
        // A request that comes after the shared refresh finds it expired and takes the next one.
        assertThat(snapshotOf(getStatus())).isEqualTo(2);
    }

    @Test
    void aFailedSnapshotIsAnswered500AndNotRetakenBeforeItIsASecondOld() throws Exception {
        server = new AdminServer(METRICS, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), source,
                Duration.ofSeconds(1), ticker).start();
        failure = new IllegalStateException("permit table unreadable");
        // Regression: a handler's exception used to close the exchange before the 500 was sent (no answer at all).

        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = getStatus();
            assertThat(r.statusCode()).isEqualTo(500);
            assertThat(r.body()).contains("permit table unreadable");
        }
        assertThat(snapshots.get()).isEqualTo(1);

        failure = null;
        nanos.addAndGet(Duration.ofSeconds(1).toNanos());
        assertThat(snapshotOf(getStatus())).isEqualTo(2);
    }
}
