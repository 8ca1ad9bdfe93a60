package dev.sluice.worker.hub;

import com.sun.net.httpserver.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** The Hub client's warm-up: its send path readied on a loopback server before the first job. */
final class HubWarmUp {
    private static final Logger log = LoggerFactory.getLogger(HubWarmUp.class);

    private HubWarmUp() {
    }

    /**
     * Readies the send path before the node takes its first job: a node's first Hub requests would otherwise load
     * and interpret the HTTP client's code and open its first connections after their rate tokens' times, and
     * leave late. Sends {@code requests} requests, {@code parallel} at a time, exactly as Hub requests are sent
     * (this client, its timeouts, the same body) to a throwaway HTTP server on the loopback interface, never to the
     * Hub: nothing here may count at the Hub. Also resolves the Hub's host name. A failure is logged, not thrown:
     * the node still works, only its first requests are slower (and held back if too late).
     */
    static HubClient.WarmUp run(HttpClient http, Function<URI, HttpRequest> request, String host, int requests,
                                int parallel) {
        long began = System.nanoTime();
        try {
            InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            log.warn("the Hub's host {} does not resolve yet: {}", host, e.getMessage());
        }
        HttpServer server = null;
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        long[] took = new long[requests];
        AtomicInteger sent = new AtomicInteger();
        try {
            byte[] body = "{\"warm\":true}".getBytes(StandardCharsets.UTF_8);
            server = HttpServer.create(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            server.setExecutor(threads);
            server.createContext("/", exchange -> {
                try (exchange) {
                    exchange.getRequestBody().readAllBytes();
                    exchange.getResponseHeaders().set("Content-Type", "application/json");
                    exchange.sendResponseHeaders(200, body.length);
                    exchange.getResponseBody().write(body);
                }
            });
            server.start();
            URI uri = URI.create("http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort()
                    + "/warm-up");
            List<Future<?>> senders = new ArrayList<>();
            for (int t = 0; t < parallel; t++) {
                senders.add(threads.submit(() -> {
                    for (int i = sent.getAndIncrement(); i < requests; i = sent.getAndIncrement()) {
                        long start = System.nanoTime();
                        http.send(request.apply(uri), HttpResponse.BodyHandlers.ofByteArray());
                        took[i] = System.nanoTime() - start;
                    }
                    return null;
                }));
            }
            for (Future<?> f : senders) {
                f.get(30, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            log.warn("warming the Hub client's send path failed (its first Hub requests may be slow): {}", e.toString());
        } finally {
            if (server != null) {
                server.stop(0);
            }
            threads.shutdownNow();
        }
        long slowestOfLastTen = 0;
        for (int i = Math.max(0, requests - 10); i < requests; i++) {
            slowestOfLastTen = Math.max(slowestOfLastTen, took[i]);
        }
        HubClient.WarmUp w = new HubClient.WarmUp(Math.min(requests, sent.get()), Duration.ofNanos(System.nanoTime() - began),
                Duration.ofNanos(requests > 0 ? took[0] : 0), Duration.ofNanos(slowestOfLastTen));
        log.info("Hub client send path warmed: {} loopback requests in {} ms (the first took {} ms, the slowest of the "
                        + "last ten {} ms)", requests, w.took().toMillis(), String.format(Locale.ROOT, "%.1f", w.first().toNanos() / 1e6),
                String.format(Locale.ROOT, "%.2f", w.slowestOfLastTen().toNanos() / 1e6));
        return w;
    }
}
