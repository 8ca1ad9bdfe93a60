package dev.sluice.worker.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.adminhttp.AdminHttp;
import dev.sluice.adminhttp.BearerTokens;
import dev.sluice.adminhttp.Operation;
import dev.sluice.adminhttp.Responses;
import dev.sluice.common.config.MetricsConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The node's admin HTTP endpoint on {@code [metrics] bind:port}, served by the shared admin HTTP layer
 * ({@link AdminHttp}, the coordinator's too):
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
 * <p>Every endpoint above is read-only and answers GET and HEAD only (405 otherwise). An operation, which changes
 * state, answers POST only and requires {@code Authorization: Bearer <[metrics] token>} (401 without it or with
 * another); with no token configured it is refused (403):
 * <ul>
 *   <li>{@code POST /api/limits} (with {@link #acceptLimitChanges}): sets the fleet's live Hub limits, body
 *       {@code {"maxRequestsPerSecond": N, "maxInFlight": M, "expectedVersion": V, "by": "name"}}
 *       ({@code expectedVersion} and {@code by} optional). 200 with the new record; 409 with the current one when
 *       the record is no longer at {@code expectedVersion}; 400 naming the field for a bad body.</li>
 * </ul>
 */
public final class AdminServer implements AutoCloseable {
    /** The largest {@code POST /api/limits} body. */
    private static final int MAX_BODY_BYTES = 4096;
    private static final Set<String> LIMITS_FIELDS = Set.of("maxRequestsPerSecond", "maxInFlight", "expectedVersion",
            "by");

    private final NodeStatusSource source;
    private final AdminHttp http;

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
        this.source = source;
        StatusCache status = new StatusCache(source::status, statusMaxAge, ticker);
        // Operations need no JSON content type here: `curl -d` to /api/limits has worked since it was added, and the
        // node serves no page a cross-site form could be sent from.
        this.http = new AdminHttp("the admin endpoint ([metrics] bind and port)", config.bind(), config.port())
                .access(BearerTokens.single("the admin token", config.token(),
                        "read-only: set [metrics] token to allow changes with Authorization: Bearer <token>"))
                .bodies(MAX_BODY_BYTES, false)
                .read("/health/live", exchange -> live().answer(exchange))
                .read("/health/ready", exchange -> ready().answer(exchange))
                .read("/metrics", exchange -> Responses.send(exchange, 200, Responses.PROMETHEUS_TEXT,
                        registry.scrape().getBytes(StandardCharsets.UTF_8)))
                .read("/api/status", exchange -> Responses.json(exchange, 200, status.get()));
    }

    /** Serves {@code POST /api/limits} through {@code control}. */
    public AdminServer acceptLimitChanges(LimitsControl control) {
        return operation("/api/limits", (who, body) -> changeLimits(body, control));
    }

    /** Registers an operation: POST with the token. */
    AdminServer operation(String path, Operation operation) {
        http.operation(path, operation);
        return this;
    }

    private static Operation.Result changeLimits(JsonNode fields, LimitsControl control) {
        for (String key : (Iterable<String>) fields::fieldNames) {
            if (!LIMITS_FIELDS.contains(key)) {
                return error(400, "unknown field '" + key + "'; the fields are maxRequestsPerSecond, maxInFlight, "
                        + "expectedVersion and by");
            }
        }
        try {
            int rps = (int) whole(fields, "maxRequestsPerSecond", true, Integer.MAX_VALUE);
            int inFlight = (int) whole(fields, "maxInFlight", true, Integer.MAX_VALUE);
            long expected = whole(fields, "expectedVersion", false, Long.MAX_VALUE);
            JsonNode by = fields.get("by");
            if (by != null && !by.isNull() && !by.isTextual()) {
                return error(400, "by must be a string, but was " + by);
            }
            LimitsControl.Result result = control.set(fields.has("expectedVersion") ? expected : null, rps,
                    inFlight, by == null || by.isNull() ? "the admin token" : by.asText());
            if (!result.applied()) {
                Map<String, Object> answer = new LinkedHashMap<>();
                answer.put("error", "the fleet's limits record is no longer at version " + expected
                        + "; read it again and retry");
                answer.put("limits", result.limits());
                return new Operation.Result(409, answer);
            }
            return new Operation.Result(200, Map.of("applied", true, "limits", result.limits()));
        } catch (IllegalArgumentException e) {
            return error(400, e.getMessage());
        }
    }

    /** A whole-number field between 1 and {@code max}; 0 when optional and absent. */
    private static long whole(JsonNode fields, String name, boolean required, long max) {
        JsonNode value = fields.get(name);
        if (value == null || value.isNull()) {
            if (required) {
                throw new IllegalArgumentException(name + " is required");
            }
            return 0;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()
                || value.asLong() < 1 || value.asLong() > max) {
            throw new IllegalArgumentException(name + " must be a whole number between 1 and " + max + ", but was "
                    + (value.isTextual() ? value.asText() : value));
        }
        return value.asLong();
    }

    private static Operation.Result error(int status, String message) {
        return new Operation.Result(status, Map.of("error", message));
    }

    /** An answer with a JSON body. */
    private record Answer(int status, Object body) {
        void answer(com.sun.net.httpserver.HttpExchange exchange) throws java.io.IOException {
            Responses.json(exchange, status, body);
        }
    }

    private Answer live() {
        List<String> problems = source.livenessProblems();
        if (problems.isEmpty()) {
            return new Answer(200, Map.of("status", "UP"));
        }
        return new Answer(503, Map.of("status", "DOWN", "problems", problems));
    }

    private Answer ready() {
        Readiness r = source.readiness();
        if (r.ready()) {
            return new Answer(200, Map.of("status", "READY"));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", "NOT_READY");
        body.put("reason", r.reason());
        return new Answer(503, body);
    }

    /**
     * Binds and starts serving.
     *
     * @throws UncheckedIOException when the address cannot be bound (port in use, unknown interface)
     */
    public AdminServer start() {
        http.start();
        return this;
    }

    /** The bound port (the chosen one when {@code [metrics] port} is 0). */
    public int port() {
        return http.port();
    }

    /** {@code http://<bind>:<port>/}. */
    public URI uri() {
        return http.uri();
    }

    /** Stops listening; requests being answered are cut short. Idempotent. */
    public void stop() {
        http.stop();
    }

    @Override
    public void close() {
        stop();
    }
}
