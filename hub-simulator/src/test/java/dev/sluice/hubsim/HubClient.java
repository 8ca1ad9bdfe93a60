package dev.sluice.hubsim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP client for the simulator's tests. HTTP/1.1, so that each concurrent request opens its own
 * connection and nothing on the client side queues requests.
 */
final class HubClient implements AutoCloseable {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();

    /**
     * Answers to a burst of concurrent requests.
     *
     * @param responses      the answers, in the order of the requests
     * @param maxOutstanding the most requests this client had sent and not yet had answered at one time
     */
    record Burst(List<HttpResponse<String>> responses, int maxOutstanding) {
        Map<Integer, Long> statusCounts() {
            var counts = new TreeMap<Integer, Long>();
            responses.forEach(response -> counts.merge(response.statusCode(), 1L, Long::sum));
            return counts;
        }

        long count(int status) {
            return statusCounts().getOrDefault(status, 0L);
        }

        List<HttpResponse<String>> withStatus(int status) {
            return responses.stream().filter(response -> response.statusCode() == status).toList();
        }
    }

    HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(TIMEOUT).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return get(URI.create(url));
    }

    HttpResponse<String> post(String url) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    JsonNode json(HttpResponse<String> response) throws IOException {
        return JSON.readTree(response.body());
    }

    /** {@code GET /admin/stats}, parsed. */
    JsonNode stats(HubSimulator hub) throws IOException, InterruptedException {
        var response = get(hub.baseUrl() + "/admin/stats");
        if (response.statusCode() != 200) {
            throw new AssertionError("GET /admin/stats answered " + response.statusCode() + ": " + response.body());
        }
        return json(response);
    }

    /**
     * Sends all requests at once: one virtual thread each, all released together by a start latch, and waits for
     * every answer.
     */
    Burst burst(List<URI> uris) throws InterruptedException, ExecutionException, TimeoutException {
        var ready = new CountDownLatch(uris.size());
        var go = new CountDownLatch(1);
        var outstanding = new AtomicInteger();
        var maxOutstanding = new AtomicInteger();
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            var futures = new ArrayList<Future<HttpResponse<String>>>();
            for (var uri : uris) {
                futures.add(executor.submit(() -> {
                    ready.countDown();
                    go.await();
                    maxOutstanding.accumulateAndGet(outstanding.incrementAndGet(), Math::max);
                    try {
                        return get(uri);
                    } finally {
                        outstanding.decrementAndGet();
                    }
                }));
            }
            ready.await();
            go.countDown();
            var responses = new ArrayList<HttpResponse<String>>();
            for (var future : futures) {
                responses.add(future.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
            }
            return new Burst(responses, maxOutstanding.get());
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
