package dev.sluice.coordinator.admin;

import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;

/** Answers a GET or HEAD request routed to it; the server has checked the method. */
@FunctionalInterface
public interface Endpoint {
    void serve(HttpExchange exchange) throws IOException;
}
