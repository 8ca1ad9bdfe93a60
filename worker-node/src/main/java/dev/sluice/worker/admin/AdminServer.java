package dev.sluice.worker.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.common.config.MetricsConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;

/**
 * The node's admin HTTP endpoint on {@code [metrics] bind:port}, served by the JDK's HTTP server on virtual threads:
 *
 * <ul>
 *   <li>{@code GET /health/live}: 200 while every loop of the node comes round; 503 with the problems when one
 *       has work and has stood still for three periods (at least 30 s), or a fatal error struck.</li>
 *   <li>{@code GET /health/ready}: 200 while the node runs and sees Redis, else 503 with the reason as JSON.</li>
 *   <li>{@code GET /metrics}: the Prometheus scrape, text format 0.0.4.</li>
 *   <li>{@code GET /api/status}: the node's state as JSON (see {@link NodeStatus}); no secrets. Served from a
 *       snapshot at most a second old ({@link StatusCache}): taking one reads the fleet's permit table from the
 *       store, and requests, which need no token, must not multiply those reads.</li>
 * </ul>
 *
 * <p>Every endpoint above is read-only and answers GET and HEAD only (405 otherwise). An endpoint that changes state
 * is declared mutating and requires {@code Authorization: Bearer <[metrics] token>}; with no token configured it is
 * refused (403):
 * <ul>
 *   <li>{@code POST /api/limits} (with {@link #acceptLimitChanges}): sets the fleet's live Hub limits, body
 *       {@code {"maxRequestsPerSecond": N, "maxInFlight": M, "expectedVersion": V, "by": "name"}}
 *       ({@code expectedVersion} and {@code by} optional). 200 with the new record; 409 with the current one when
 *       the record is no longer at {@code expectedVersion}; 400 naming the field for a bad body.</li>
 * </ul>
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    static final String APPLICATION_JSON = "application/json";

    /** An answer. */
    record Response(int status, String contentType, byte[] body) {
        static Response json(int status, Object value) {
            try {
                return new Response(status, APPLICATION_JSON, JSON.writeValueAsBytes(value));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
            }
        }
    }

    /** Produces an answer to a request it has been routed. */
    @FunctionalInterface
    interface Handler {
        Response handle(HttpExchange exchange) throws IOException;
    }

    private record Endpoint(Set<String> methods, boolean mutating, Handler handler) {
    }

    private final MetricsConfig config;
    private final PrometheusMeterRegistry registry;
    private final NodeStatusSource source;
    private final WriteAccess writeAccess;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private HttpServer server;
    private ExecutorService executor;

    public AdminServer(MetricsConfig config, PrometheusMeterRegistry registry, NodeStatusSource source) {
        this(config, registry, source, StatusCache.DEFAULT_MAX_AGE, System::nanoTime);
    }

    /**
     * An admin server whose {@code /api/status} snapshots live {@code statusMaxAge}, aged on {@code ticker}.
     *
     * @param statusMaxAge how old the {@code /api/status} snapshot may be before a request takes a new one
     * @param ticker       monotonic nanoseconds ({@code System::nanoTime}) that snapshot ages are measured on
     */
    AdminServer(MetricsConfig config, PrometheusMeterRegistry registry, NodeStatusSource source,
                Duration statusMaxAge, LongSupplier ticker) {
        this.config = config;
        this.registry = registry;
        this.source = source;
        this.writeAccess = new WriteAccess(config.token());
        StatusCache status = new StatusCache(source::status, statusMaxAge, ticker);
        readOnly("/health/live", exchange -> live());
        readOnly("/health/ready", exchange -> ready());
        readOnly("/metrics", exchange -> new Response(200, PROMETHEUS_TEXT,
                registry.scrape().getBytes(StandardCharsets.UTF_8)));
        readOnly("/api/status", exchange -> Response.json(200, status.get()));
    }

    /** Serves {@code POST /api/limits} through {@code control}. */
    public AdminServer acceptLimitChanges(LimitsControl control) {
        mutating("/api/limits", Set.of("POST"), exchange -> changeLimits(exchange, control));
        return this;
    }

    private static final int MAX_BODY_BYTES = 4096;

    private static Response changeLimits(HttpExchange exchange, LimitsControl control) throws IOException {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readNBytes(MAX_BODY_BYTES + 1);
        }
        if (body.length > MAX_BODY_BYTES) {
            return error(413, "the body must be at most " + MAX_BODY_BYTES + " bytes");
        }
        Map<?, ?> fields;
        try {
            fields = JSON.readValue(body, Map.class);
        } catch (IOException | RuntimeException e) {
            return error(400, "the body must be a JSON object like {\"maxRequestsPerSecond\": 100, \"maxInFlight\": 10}");
        }
        if (fields == null) {
            return error(400, "the body must be a JSON object");
        }
        for (Object key : fields.keySet()) {
            if (!Set.of("maxRequestsPerSecond", "maxInFlight", "expectedVersion", "by").contains(key)) {
                return error(400, "unknown field '" + key + "'; the fields are maxRequestsPerSecond, maxInFlight, "
                        + "expectedVersion and by");
            }
        }
        try {
            int rps = (int) whole(fields, "maxRequestsPerSecond", true, Integer.MAX_VALUE);
            int inFlight = (int) whole(fields, "maxInFlight", true, Integer.MAX_VALUE);
            long expected = whole(fields, "expectedVersion", false, Long.MAX_VALUE);
            Object by = fields.get("by");
            if (by != null && !(by instanceof String)) {
                return error(400, "by must be a string, but was " + by);
            }
            LimitsControl.Result result = control.set(fields.containsKey("expectedVersion") ? expected : null, rps,
                    inFlight, by == null ? "the admin token" : (String) by);
            if (!result.applied()) {
                Map<String, Object> answer = new LinkedHashMap<>();
                answer.put("error", "the fleet's limits record is no longer at version " + expected
                        + "; read it again and retry");
                answer.put("limits", result.limits());
                return Response.json(409, answer);
            }
            return Response.json(200, Map.of("applied", true, "limits", result.limits()));
        } catch (IllegalArgumentException e) {
            return error(400, e.getMessage());
        }
    }

    /** A whole-number field between 1 and {@code max}; 0 when optional and absent. */
    private static long whole(Map<?, ?> fields, String name, boolean required, long max) {
        Object value = fields.get(name);
        if (value == null) {
            if (required) {
                throw new IllegalArgumentException(name + " is required");
            }
            return 0;
        }
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 1
                || ((Number) value).longValue() > max) {
            throw new IllegalArgumentException(name + " must be a whole number between 1 and " + max + ", but was "
                    + value);
        }
        return ((Number) value).longValue();
    }

    private void readOnly(String path, Handler handler) {
        endpoints.put(path, new Endpoint(Set.of("GET", "HEAD"), false, handler));
    }

    /** Declares an endpoint that changes state: it answers only requests that present the token. */
    void mutating(String path, Set<String> methods, Handler handler) {
        endpoints.put(path, new Endpoint(Set.copyOf(methods), true, handler));
    }

    private Response live() {
        java.util.List<String> problems = source.livenessProblems();
        if (problems.isEmpty()) {
            return Response.json(200, Map.of("status", "UP"));
        }
        return Response.json(503, Map.of("status", "DOWN", "problems", problems));
    }

    private Response ready() {
        Readiness r = source.readiness();
        if (r.ready()) {
            return Response.json(200, Map.of("status", "READY"));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "NOT_READY");
        body.put("reason", r.reason());
        return Response.json(503, body);
    }

    /**
     * Binds and starts serving.
     *
     * @throws UncheckedIOException when the address cannot be bound (port in use, unknown interface)
     */
    public synchronized AdminServer start() {
        if (server != null) {
            return this;
        }
        InetSocketAddress address = new InetSocketAddress(config.bind(), config.port());
        HttpServer s;
        try {
            s = HttpServer.create(address, 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + config.bind() + ":" + config.port()
                    + " for the admin endpoint ([metrics] bind and port): " + e.getMessage(), e);
        }
        executor = Executors.newVirtualThreadPerTaskExecutor();
        s.setExecutor(executor);
        s.createContext("/", this::dispatch);
        s.start();
        server = s;
        log.debug("admin endpoint listening on {}", uri());
        return this;
    }

    /** The bound port (the chosen one when {@code [metrics] port} is 0). */
    public synchronized int port() {
        if (server == null) {
            throw new IllegalStateException("the admin server is not started");
        }
        return server.getAddress().getPort();
    }

    /** {@code http://<bind>:<port>/}. */
    public URI uri() {
        String host = config.bind().contains(":") ? "[" + config.bind() + "]" : config.bind();
        return URI.create("http://" + host + ":" + port() + "/");
    }

    private void dispatch(HttpExchange exchange) {
        // A failure is answered inside the try: its catch would run after the exchange is closed, and the client
        // would get no answer at all.
        try (exchange) {
            Response response;
            try {
                response = route(exchange);
            } catch (RuntimeException e) {
                log.warn("admin request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
                response = error(500, e.toString());
            }
            if (response != null) {
                send(exchange, response);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("admin request {} {} could not be answered", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        }
    }

    /** The answer to a request, or null when it has been answered already (a refused change). */
    private Response route(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        Endpoint endpoint = endpoints.get(exchange.getRequestURI().getPath());
        if (endpoint == null) {
            return error(404, "no such endpoint; try " + String.join(", ", endpoints.keySet()));
        }
        if (!endpoint.methods().contains(method)) {
            exchange.getResponseHeaders().set("Allow", String.join(", ", new TreeSet<>(endpoint.methods())));
            return error(405, method + " is not allowed here" + (endpoint.mutating() ? "" : ": this endpoint is read-only"));
        }
        if (endpoint.mutating() && !authorized(exchange)) {
            return null;
        }
        return endpoint.handler().handle(exchange);
    }

    /** Answers 401 or 403 and returns false unless the request may change state. */
    private boolean authorized(HttpExchange exchange) throws IOException {
        WriteAccess.Decision decision = writeAccess.check(exchange.getRequestHeaders().getFirst("Authorization"));
        switch (decision) {
            case ALLOWED -> {
                return true;
            }
            case DISABLED -> send(exchange, error(decision.status,
                    "read-only: set [metrics] token to allow changes with Authorization: Bearer <token>"));
            case MISSING, WRONG -> {
                exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"sluice\"");
                send(exchange, error(decision.status, decision == WriteAccess.Decision.MISSING
                        ? "this endpoint changes state: present Authorization: Bearer <token>"
                        : "the bearer token is not the configured one"));
            }
        }
        return false;
    }

    private static Response error(int status, String message) {
        return Response.json(status, Map.of("error", message));
    }

    private static void send(HttpExchange exchange, Response response) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", response.contentType());
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(response.body().length));
            exchange.sendResponseHeaders(response.status(), -1);
            return;
        }
        exchange.sendResponseHeaders(response.status(), response.body().length == 0 ? -1 : response.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(response.body());
        }
    }

    /** Stops listening; requests being answered are cut short. Idempotent. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        server.stop(0);
        executor.shutdownNow();
        server = null;
        executor = null;
    }

    @Override
    public void close() {
        stop();
    }
}
