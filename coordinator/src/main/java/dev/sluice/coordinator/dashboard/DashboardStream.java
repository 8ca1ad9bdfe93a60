package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.coordinator.admin.Endpoint;
import dev.sluice.coordinator.admin.Responses;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * {@code GET /api/dashboard/stream}: the dashboard's snapshot as a server-sent event ({@code event: snapshot}) every
 * {@code every}, for as long as the client stays; the page paints its first view from {@code /api/dashboard} and
 * only updates it from here. Clients share one snapshot per tick.
 */
public final class DashboardStream implements Endpoint, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DashboardStream.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DashboardFeed feed;
    private final Duration every;
    private volatile boolean closed;
    private byte[] latest;
    private long latestAt;

    public DashboardStream(DashboardFeed feed, Duration every) {
        this.feed = feed;
        this.every = every;
    }

    @Override
    public void serve(HttpExchange exchange) throws IOException {
        if (!Responses.startEventStream(exchange)) {
            return;
        }
        long id = 0;
        try (OutputStream out = exchange.getResponseBody()) {
            out.write("retry: 2000\n: sluice dashboard stream\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            while (!closed) {
                Thread.sleep(every);
                byte[] data = latest();
                out.write(("id: " + ++id + "\nevent: snapshot\ndata: ").getBytes(StandardCharsets.UTF_8));
                out.write(data);
                out.write("\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            log.debug("dashboard stream client gone: {}", e.toString());
        }
    }

    /**
     * The snapshot as JSON, built at most once per half period whatever the number of clients: each build reads
     * Redis and walks the cluster state.
     */
    private synchronized byte[] latest() throws IOException {
        long now = System.nanoTime();
        if (latest == null || now - latestAt >= every.toNanos() / 2) {
            latest = JSON.writeValueAsBytes(feed.view());
            latestAt = now;
        }
        return latest;
    }

    @Override
    public void close() {
        closed = true;
    }
}
