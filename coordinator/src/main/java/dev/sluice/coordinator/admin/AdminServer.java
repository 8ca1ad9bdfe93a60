package dev.sluice.coordinator.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.common.config.MetricsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The coordinator's HTTP endpoint on {@code [metrics] bind:port}, served by the JDK's HTTP server on virtual
 * threads. Read endpoints answer GET and HEAD; operations ({@link #action}) answer POST only, and only to a request
 * that carries {@code Authorization: Bearer <token>} of one of {@code coordinator.tokens} (its name is who the audit
 * records) and a JSON body: a cross-site form cannot send either without a CORS preflight, which is never granted.
 * A request whose {@code Host} is not one of the coordinator's names is refused (421), except for {@code /metrics}
 * and {@code /health/*}, which scrapers and probes reach by any name. Every answer carries a Content-Security-Policy
 * that allows scripts, styles and connections from the coordinator itself only (no inline script). Unknown paths get
 * 404 with the list of known ones. The endpoints themselves are registered by the wiring.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final Set<String> READ_METHODS = Set.of("GET", "HEAD");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What every answer carries. */
    static final Map<String, String> SECURITY_HEADERS = Map.of(
            "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                    + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options", "nosniff",
            "X-Frame-Options", "DENY",
            "Referrer-Policy", "no-referrer");
    /** The largest body an operation takes. */
    static final int MAX_BODY = 32 * 1024;

    /** A state-changing operation: what it answers, given who asked (a token's name) and the JSON body. */
    @FunctionalInterface
    public interface Action {
        Result handle(String who, JsonNode body) throws IOException;
    }

    /** An operation's answer: status and a JSON-able body. */
    public record Result(int status, Object body) {
    }

    private final MetricsConfig config;
    private final Map<String, String> tokens;
    private final Set<String> hostnames;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private final Map<String, Action> actions = new LinkedHashMap<>();
    private final Map<String, String> files = new LinkedHashMap<>();
    private HttpServer server;
    private ExecutorService executor;

    public AdminServer(MetricsConfig config) {
        this(config, Map.of(), Set.of());
    }

    /**
     * @param tokens    operators' tokens by name (none: every operation answers 403)
     * @param hostnames the names a request's {@code Host} may carry (any when empty)
     */
    public AdminServer(MetricsConfig config, Map<String, String> tokens, Set<String> hostnames) {
        this.config = config;
        this.tokens = Map.copyOf(tokens);
        this.hostnames = Set.copyOf(hostnames);
    }

    /** Registers a state-changing operation (POST) at exactly {@code path}. */
    public synchronized AdminServer action(String path, Action action) {
        actions.put(path, action);
        return this;
    }

    /**
     * Serves the class-path resource {@code resource} at {@code path} (GET), with {@code contentType}; the static
     * files of the dashboard.
     */
    public synchronized AdminServer file(String path, String resource, String contentType) {
        if (AdminServer.class.getResource(resource) == null) {
            throw new IllegalStateException("no resource " + resource + " in the coordinator's jar");
        }
        files.put(path, resource + "|" + contentType);
        return this;
    }

    /** Registers a read-only endpoint at exactly {@code path}. */
    public synchronized AdminServer route(String path, Endpoint endpoint) {
        endpoints.put(path, endpoint);
        return this;
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
        HttpServer s;
        try {
            s = HttpServer.create(new InetSocketAddress(config.bind(), config.port()), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + config.bind() + ":" + config.port()
                    + " ([metrics] bind and port): " + e.getMessage(), e);
        }
        executor = Executors.newVirtualThreadPerTaskExecutor();
        s.setExecutor(executor);
        s.createContext("/", this::dispatch);
        s.start();
        server = s;
        log.info("HTTP endpoint listening on {}", uri());
        return this;
    }

    /** The bound port (the chosen one when {@code [metrics] port} is 0). */
    public synchronized int port() {
        if (server == null) {
            throw new IllegalStateException("the HTTP server is not started");
        }
        return server.getAddress().getPort();
    }

    /** {@code http://<bind>:<port>/}; a wildcard bind shows as 127.0.0.1. */
    public URI uri() {
        String bind = config.bind();
        String host = bind.equals("0.0.0.0") || bind.equals("::") ? "127.0.0.1" : bind.contains(":") ? "[" + bind + "]" : bind;
        return URI.create("http://" + host + ":" + port() + "/");
    }

    private void dispatch(HttpExchange exchange) {
        try (exchange) {
            SECURITY_HEADERS.forEach(exchange.getResponseHeaders()::set);
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            Endpoint endpoint;
            Action action;
            String file;
            synchronized (this) {
                endpoint = endpoints.get(path);
                action = actions.get(path);
                file = files.get(path);
            }
            if (!path.equals("/metrics") && !path.startsWith("/health/") && !hostAllowed(exchange)) {
                Responses.error(exchange, 421, "this coordinator does not answer to the host name '"
                        + exchange.getRequestHeaders().getFirst("Host") + "'; add it to coordinator.hostnames");
            } else if (action != null) {
                operate(exchange, action);
            } else if (endpoint == null && file == null) {
                List<String> known = new ArrayList<>(files.keySet());
                known.addAll(endpoints.keySet());
                known.addAll(actions.keySet().stream().map(a -> "POST " + a).toList());
                Responses.error(exchange, 404, "no such endpoint; try " + String.join(", ", known));
            } else if (!READ_METHODS.contains(method)) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                Responses.error(exchange, 405, method + " is not allowed here: this endpoint is read-only");
            } else if (file != null) {
                int bar = file.indexOf('|');
                try (InputStream in = AdminServer.class.getResourceAsStream(file.substring(0, bar))) {
                    Responses.send(exchange, 200, file.substring(bar + 1), in.readAllBytes());
                }
            } else {
                endpoint.serve(exchange);
            }
        } catch (IOException e) {
            log.debug("request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        } catch (RuntimeException e) {
            log.warn("request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
            try {
                Responses.error(exchange, 500, e.toString());
            } catch (IOException | RuntimeException again) {
                log.debug("could not answer 500", again);
            }
        }
    }

    private boolean hostAllowed(HttpExchange exchange) {
        if (hostnames.isEmpty()) {
            return true;
        }
        String host = exchange.getRequestHeaders().getFirst("Host");
        return host != null && hostnames.contains(hostName(host));
    }

    /** The host of an {@code Origin} header, or "" when it has none (an opaque "null" origin, a malformed one). */
    static String originHost(String origin) {
        try {
            String authority = URI.create(origin.strip()).getAuthority();
            return authority == null ? "" : hostName(authority);
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    /** The name in a {@code Host} header or an origin's authority, without the port, lower case. */
    static String hostName(String authority) {
        String h = authority.strip().toLowerCase(java.util.Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(0, end + 1);
        }
        int colon = h.lastIndexOf(':');
        return colon >= 0 && h.indexOf(':') == colon ? h.substring(0, colon) : h;
    }

    private void operate(HttpExchange exchange, Action action) throws IOException {
        if (!exchange.getRequestMethod().equals("POST")) {
            exchange.getResponseHeaders().set("Allow", "POST");
            Responses.error(exchange, 405, exchange.getRequestMethod() + " is not allowed: this operation takes POST");
            return;
        }
        if (tokens.isEmpty()) {
            Responses.error(exchange, 403, "operations are off on this coordinator: no coordinator.tokens configured");
            return;
        }
        String who = who(exchange.getRequestHeaders().getFirst("Authorization"));
        if (who == null) {
            exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"sluice\"");
            Responses.error(exchange, 401, "this operation needs Authorization: Bearer <token> with one of the "
                    + "coordinator's tokens");
            return;
        }
        String origin = exchange.getRequestHeaders().getFirst("Origin");
        String site = exchange.getRequestHeaders().getFirst("Sec-Fetch-Site");
        if ((site != null && site.equalsIgnoreCase("cross-site")) || (origin != null && !hostnames.isEmpty()
                && !hostnames.contains(originHost(origin)))) {
            Responses.error(exchange, 403, "refused: a request from another site (Origin " + origin + ")");
            return;
        }
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
            Responses.error(exchange, 415, "send the operation's parameters as Content-Type: application/json");
            return;
        }
        byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY + 1);
        if (body.length > MAX_BODY) {
            Responses.error(exchange, 413, "the body must be at most " + MAX_BODY + " bytes");
            return;
        }
        JsonNode json;
        try {
            json = body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
        } catch (IOException e) {
            Responses.error(exchange, 400, "the body is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
            return;
        }
        if (json == null || !json.isObject()) {
            Responses.error(exchange, 400, "the body must be a JSON object");
            return;
        }
        Result result = action.handle(who, json);
        Responses.json(exchange, result.status(), result.body());
    }

    /** The name of the token in an {@code Authorization: Bearer} header, compared in constant time; null if none. */
    private String who(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        byte[] given = authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        String found = null;
        for (Map.Entry<String, String> t : tokens.entrySet()) {
            if (MessageDigest.isEqual(given, t.getValue().getBytes(StandardCharsets.UTF_8))) {
                found = t.getKey();
            }
        }
        return found;
    }

    /** Stops listening; open streams are cut. Idempotent. */
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
