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
 * @param shape   how the body goes out (size, framing, pace)
 */
record Answer(int status, String json, Map<String, String> headers, BodyShape shape) {
    Answer {
        headers = Map.copyOf(headers);
    }

    static Answer json(int status, String json) {
        return new Answer(status, json, Map.of(), BodyShape.PLAIN);
    }

    static Answer error(int status, String message) {
        return json(status, Json.error(message));
    }

    static Answer empty(int status) {
        return new Answer(status, null, Map.of(), BodyShape.PLAIN);
    }

    Answer withHeader(String name, String value) {
        var more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new Answer(status, json, more, shape);
    }

    Answer shaped(BodyShape shape) {
        return new Answer(status, json, headers, shape);
    }

    /** Sends the answer (the admin endpoints' answers, never trickled). */
    void sendTo(HttpExchange exchange) throws IOException {
        try {
            sendTo(exchange, () -> { });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while answering", e);
        }
    }

    /**
     * Sends the answer, calling {@code beforeLastPiece} right before the last piece of the body is written (before
     * anything is written when the body is one piece): until then the request is still being answered.
     *
     * @throws IOException          when the client went away mid-answer
     * @throws InterruptedException when the simulator stops during a trickle
     */
    void sendTo(HttpExchange exchange, Runnable beforeLastPiece) throws IOException, InterruptedException {
        var responseHeaders = exchange.getResponseHeaders();
        headers.forEach(responseHeaders::set);
        if (json == null) {
            beforeLastPiece.run();
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        var body = shape.of(json.getBytes(StandardCharsets.UTF_8));
        long length = body.length();
        var pieces = shape.piecesFor(length);
        responseHeaders.set("Content-Type", "application/json");
        if (pieces.count() == 1) {
            beforeLastPiece.run();
        }
        exchange.sendResponseHeaders(status, shape.chunked() ? 0 : length);
        try (var out = exchange.getResponseBody()) {
            long from = 0;
            for (long i = 0; i < pieces.count(); i++) {
                if (i > 0 && i == pieces.count() - 1) {
                    beforeLastPiece.run();
                }
                long to = pieces.end(i);
                body.write(out, from, to);
                from = to;
                if (pieces.intervalMs() > 0 && i < pieces.count() - 1) {
                    out.flush();
                    Thread.sleep(pieces.intervalMs());
                }
            }
        }
    }
}
