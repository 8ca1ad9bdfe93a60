package dev.sluice.adminhttp;

import com.sun.net.httpserver.HttpExchange;
import org.jspecify.annotations.Nullable;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A server-sent event stream on one exchange: {@link #open} sends the headers (and for HEAD nothing more), then the
 * reconnection delay and a comment naming the stream; {@link #send} writes an event, {@link #keepAlive} a comment so
 * a dead client is noticed on the next write. Each write is flushed. A client that has gone shows as an
 * {@link IOException} from a write.
 */
public final class EventStream implements AutoCloseable {
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8);

    private final OutputStream out;

    private EventStream(OutputStream out) {
        this.out = out;
    }

    /**
     * Starts a stream named {@code name} (a comment the client ignores); null for a HEAD request, which gets the
     * headers only.
     */
    public static @Nullable EventStream open(HttpExchange exchange, String name) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.sendResponseHeaders(200, -1);
            return null;
        }
        exchange.sendResponseHeaders(200, 0);
        EventStream stream = new EventStream(exchange.getResponseBody());
        stream.write(("retry: 2000\n: " + name + "\n\n").getBytes(StandardCharsets.UTF_8));
        return stream;
    }

    /**
     * One event as it goes on the wire: {@code id}, {@code event} and one {@code data} line per line of
     * {@code data}.
     */
    public static byte[] frame(long id, String event, String data) {
        StringBuilder frame = new StringBuilder(data.length() + 40).append("id: ").append(id)
                .append("\nevent: ").append(event).append('\n');
        data.lines().forEach(line -> frame.append("data: ").append(line).append('\n'));
        if (data.isEmpty()) {
            frame.append("data: \n");
        }
        return frame.append('\n').toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Writes an event framed by {@link #frame}. */
    public void send(byte[] frame) throws IOException {
        write(frame);
    }

    /** Writes a comment line: keeps proxies from timing the stream out, and finds a client that has gone. */
    public void keepAlive() throws IOException {
        write(KEEP_ALIVE);
    }

    private void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
