package dev.sluice.adminhttp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An admin HTTP server on the JDK's HTTP server, one virtual thread per request. What it registers:
 * <ul>
 *   <li>{@link #read read endpoints} and {@link #file static files}: GET and HEAD only (405 with {@code Allow}
 *       otherwise);</li>
 *   <li>{@link #operation operations}: POST only, and only for a caller its {@link Access} allows (401 with a bearer
 *       challenge, or 403), not from another site ({@code Sec-Fetch-Site: cross-site}, or an {@code Origin} that is
 *       none of the host names: 403), with a JSON object body of at most {@code maxBody} bytes (413, 400), sent as
 *       {@code application/json} when so configured (415);</li>
 *   <li>any other path: 404 with the list of those known.</li>
 * </ul>
 * A request whose {@code Host} is none of the configured host names is refused (421), except for {@code /metrics} and
 * {@code /health/*}, which scrapers and probes reach by any name. Every answer carries the configured headers (the
 * coordinator's Content-Security-Policy). An endpoint that throws is answered 500 naming the failure and logged.
 *
 * <p>Why the JDK's server and not a library such as Javalin or Helidon SE: the endpoints are a handful of small JSON
 * answers, a scrape and two event streams, all written once here in a few hundred lines; a library would bring its
 * own server (Jetty, Helidon's Níma) and thread model into every worker node for them, and the part that was copied,
 * the routing, the tokens and the event framing, would still be Sluice's own.
 */
public final class AdminHttp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminHttp.class);
    private static final Set<String> READ_METHODS = Set.of("GET", "HEAD");
    private static final ObjectMapper JSON = new ObjectMapper();

    private record File(Class<?> owner, String resource, String contentType) {
    }

    private final String what;
    private final String bind;
    private final int port;
    private volatile Access access = new BearerTokens(Map.of(), "operations are off here");
    private volatile Set<String> hostnames = Set.of();
    private volatile String hostnamesSetting = "its host names";
    private volatile Map<String, String> headers = Map.of();
    private volatile int maxBody = 32 * 1024;
    private volatile boolean jsonContentType = true;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private final Map<String, Operation> operations = new LinkedHashMap<>();
    private final Map<String, File> files = new LinkedHashMap<>();
    private @Nullable HttpServer server;
    private @Nullable ExecutorService executor;

    /**
     * @param what what it is and which settings give its address, for messages: "the admin endpoint ([metrics] bind
     *             and port)"
     */
    public AdminHttp(String what, String bind, int port) {
        this.what = what;
        this.bind = bind;
        this.port = port;
    }

    /** Who may run operations; by default nobody (403). */
    public synchronized AdminHttp access(Access access) {
        this.access = access;
        return this;
    }

    /**
     * The names a request's {@code Host} (and an operation's {@code Origin}) may carry, any when empty (default); a
     * refusal tells to add the name to {@code setting}.
     */
    public synchronized AdminHttp hostnames(Set<String> hostnames, String setting) {
        this.hostnames = Set.copyOf(hostnames);
        this.hostnamesSetting = setting;
        return this;
    }

    /** Headers every answer carries. */
    public synchronized AdminHttp headers(Map<String, String> headers) {
        this.headers = Map.copyOf(headers);
        return this;
    }

    /**
     * The largest operation body (default 32 KiB), and whether it must be sent as {@code application/json} (default
     * yes: a cross-site form cannot send that without a CORS preflight, which is never granted).
     */
    public synchronized AdminHttp bodies(int maxBody, boolean jsonContentType) {
        this.maxBody = maxBody;
        this.jsonContentType = jsonContentType;
        return this;
    }

    /** Registers a read endpoint at exactly {@code path}. */
    public synchronized AdminHttp read(String path, Endpoint endpoint) {
        endpoints.put(path, endpoint);
        return this;
    }

    /** Registers a state-changing operation (POST) at exactly {@code path}. */
    public synchronized AdminHttp operation(String path, Operation operation) {
        operations.put(path, operation);
        return this;
    }

    /** Serves the class-path resource {@code resource} of {@code owner}'s jar at {@code path}, as {@code contentType}. */
    public synchronized AdminHttp file(String path, Class<?> owner, String resource, String contentType) {
        if (owner.getResource(resource) == null) {
            throw new IllegalStateException("no resource " + resource + " beside " + owner.getName());
        }
        files.put(path, new File(owner, resource, contentType));
        return this;
    }

    /**
     * Binds and starts serving; does nothing when started.
     *
     * @throws UncheckedIOException when the address cannot be bound (port in use, unknown interface), naming it
     */
    public synchronized AdminHttp start() {
        if (server != null) {
            return this;
        }
        HttpServer s;
        try {
            s = HttpServer.create(new InetSocketAddress(bind, port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + bind + ":" + port + " for " + what + ": "
                    + e.getMessage(), e);
        }
        ExecutorService e = Executors.newVirtualThreadPerTaskExecutor();
        s.setExecutor(e);
        s.createContext("/", this::dispatch);
        s.start();
        server = s;
        executor = e;
        log.debug("{} listening on {}", what, uri());
        return this;
    }

    /** The bound port (the chosen one when configured 0). */
    public synchronized int port() {
        HttpServer s = server;
        if (s == null) {
            throw new IllegalStateException(what + " is not started");
        }
        return s.getAddress().getPort();
    }

    /** {@code http://<bind>:<port>/}; a wildcard bind shows as 127.0.0.1. */
    public URI uri() {
        String host = bind.equals("0.0.0.0") || bind.equals("::") ? "127.0.0.1"
                : bind.contains(":") ? "[" + bind + "]" : bind;
        return URI.create("http://" + host + ":" + port() + "/");
    }

    private void dispatch(HttpExchange exchange) {
        // A failure is answered inside the try: after it, the exchange is closed and the client would get nothing.
        try (exchange) {
            try {
                route(exchange);
            } catch (RuntimeException e) {
                log.warn("request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
                Responses.error(exchange, 500, e.toString());
            }
        } catch (IOException | RuntimeException e) {
            log.debug("request {} {} could not be answered", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        }
    }

    private void route(HttpExchange exchange) throws IOException {
        headers.forEach(exchange.getResponseHeaders()::set);
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        Endpoint endpoint;
        Operation operation;
        File file;
        synchronized (this) {
            endpoint = endpoints.get(path);
            operation = operations.get(path);
            file = files.get(path);
        }
        if (!path.equals("/metrics") && !path.startsWith("/health/") && !hostAllowed(exchange)) {
            Responses.error(exchange, 421, "this server does not answer to the host name '"
                    + exchange.getRequestHeaders().getFirst("Host") + "'; add it to " + hostnamesSetting);
        } else if (operation != null) {
            operate(exchange, operation);
        } else if (endpoint == null && file == null) {
            Responses.error(exchange, 404, "no such endpoint; try " + String.join(", ", known()));
        } else if (!READ_METHODS.contains(method)) {
            exchange.getResponseHeaders().set("Allow", "GET, HEAD");
            Responses.error(exchange, 405, method + " is not allowed here: this endpoint is read-only");
        } else if (file != null) {
            try (InputStream in = file.owner().getResourceAsStream(file.resource())) {
                if (in == null) {
                    throw new IllegalStateException("resource " + file.resource() + " is gone");
                }
                Responses.send(exchange, 200, file.contentType(), in.readAllBytes());
            }
        } else if (endpoint != null) {
            endpoint.serve(exchange);
        }
    }

    private synchronized List<String> known() {
        List<String> known = new ArrayList<>(files.keySet());
        known.addAll(endpoints.keySet());
        known.addAll(operations.keySet().stream().map(a -> "POST " + a).toList());
        return known;
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
        String h = authority.strip().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(0, end + 1);
        }
        int colon = h.lastIndexOf(':');
        return colon >= 0 && h.indexOf(':') == colon ? h.substring(0, colon) : h;
    }

    private void operate(HttpExchange exchange, Operation operation) throws IOException {
        if (!exchange.getRequestMethod().equals("POST")) {
            exchange.getResponseHeaders().set("Allow", "POST");
            Responses.error(exchange, 405, exchange.getRequestMethod() + " is not allowed: this operation takes POST");
            return;
        }
        Access.Verdict verdict = access.check(exchange.getRequestHeaders().getFirst("Authorization"));
        String who = verdict.who();
        if (who == null) {
            if (verdict.status() == 401) {
                exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"sluice\"");
            }
            Responses.error(exchange, verdict.status(), verdict.message());
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
        if (jsonContentType && (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/json"))) {
            Responses.error(exchange, 415, "send the operation's parameters as Content-Type: application/json");
            return;
        }
        byte[] body = exchange.getRequestBody().readNBytes(maxBody + 1);
        if (body.length > maxBody) {
            Responses.error(exchange, 413, "the body must be at most " + maxBody + " bytes");
            return;
        }
        JsonNode json;
        try {
            json = body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
        } catch (IOException e) {
            String detail = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
            Responses.error(exchange, 400, "the body is not JSON: " + detail);
            return;
        }
        if (json == null || !json.isObject()) {
            Responses.error(exchange, 400, "the body must be a JSON object");
            return;
        }
        Operation.Result result = operation.handle(who, json);
        Responses.json(exchange, result.status(), result.body());
    }

    /** Stops listening; requests being answered and open streams are cut. Idempotent. */
    public synchronized void stop() {
        HttpServer s = server;
        ExecutorService e = executor;
        if (s == null || e == null) {
            return;
        }
        s.stop(0);
        e.shutdownNow();
        server = null;
        executor = null;
    }

    @Override
    public void close() {
        stop();
    }
}
