package dev.sluice.adminhttp;

import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;

/** Answers a GET or HEAD request routed to it, with {@link Responses} or an {@link EventStream}; the method is checked. */
@FunctionalInterface
public interface Endpoint {
    void serve(HttpExchange exchange) throws IOException;
}
