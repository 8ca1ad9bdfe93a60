package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for Alertmanager's {@code POST /api/v2/alerts}: records every request (its JSON body and
 * {@code Authorization} header) and answers 200, or a chosen status for the next few requests.
 */
public final class AlertReceiver implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One request as received. */
    public record Post(JsonNode body, String authorization, int answeredWith) {
    }

    private final HttpServer server;
    private final List<Post> posts = new ArrayList<>();
    private final AtomicInteger failuresLeft = new AtomicInteger();
    private volatile int failureStatus = 500;

    public AlertReceiver() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/api/v2/alerts", this::handle);
        server.start();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            JsonNode body = JSON.readTree(exchange.getRequestBody());
            int status = failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? failureStatus : 200;
            synchronized (this) {
                posts.add(new Post(body, exchange.getRequestHeaders().getFirst("Authorization"), status));
            }
            exchange.sendResponseHeaders(status, -1);
        }
    }

    /** The next {@code count} requests are answered {@code status}. */
    public void failNext(int count, int status) {
        failureStatus = status;
        failuresLeft.set(count);
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/api/v2/alerts");
    }

    public synchronized List<Post> posts() {
        return List.copyOf(posts);
    }

    /** Every alert of every request answered 200, in order. */
    public synchronized List<JsonNode> acceptedAlerts() {
        List<JsonNode> alerts = new ArrayList<>();
        for (Post post : posts) {
            if (post.answeredWith() == 200) {
                post.body().forEach(alerts::add);
            }
        }
        return alerts;
    }

    /** The accepted alerts with this {@code alertname}. */
    public List<JsonNode> accepted(String alertname) {
        return acceptedAlerts().stream().filter(a -> alertname.equals(a.path("labels").path("alertname").asText()))
                .toList();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
