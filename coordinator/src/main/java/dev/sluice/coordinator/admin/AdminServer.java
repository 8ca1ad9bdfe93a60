package dev.sluice.coordinator.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.common.config.MetricsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The coordinator's HTTP endpoint on {@code [metrics] bind:port}, served by the JDK's HTTP server on virtual
 * threads. Every endpoint is read-only: GET and HEAD are answered, any other method gets 405 with {@code Allow}.
 * Unknown paths get 404 with the list of known ones. The endpoints themselves are registered by the wiring.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final Set<String> READ_METHODS = Set.of("GET", "HEAD");

    private final MetricsConfig config;
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private HttpServer server;
    private ExecutorService executor;

    public AdminServer(MetricsConfig config) {
        this.config = config;
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
            String method = exchange.getRequestMethod();
            Endpoint endpoint;
            synchronized (this) {
                endpoint = endpoints.get(exchange.getRequestURI().getPath());
            }
            if (endpoint == null) {
                Responses.error(exchange, 404, "no such endpoint; try " + String.join(", ", endpoints.keySet()));
            } else if (!READ_METHODS.contains(method)) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                Responses.error(exchange, 405, method + " is not allowed: the coordinator's endpoints are read-only");
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
