package dev.sluice.hubsim;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An HTTP answer decided before anything is written, so that it can be recorded first and sent after.
 *
 * @param status  the HTTP status
 * @param json    the JSON body, or null for none
 * @param headers extra response headers
 */
record Answer(int status, String json, Map<String, String> headers) {
    Answer {
        headers = Map.copyOf(headers);
    }

    static Answer json(int status, String json) {
        return new Answer(status, json, Map.of());
    }

    static Answer error(int status, String message) {
        return json(status, Json.error(message));
    }

    static Answer empty(int status) {
        return new Answer(status, null, Map.of());
    }

    Answer withHeader(String name, String value) {
        var more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new Answer(status, json, more);
    }

    void sendTo(HttpExchange exchange) throws IOException {
        var responseHeaders = exchange.getResponseHeaders();
        headers.forEach(responseHeaders::set);
        if (json == null) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        var body = json.getBytes(StandardCharsets.UTF_8);
        responseHeaders.set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        try (var out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
