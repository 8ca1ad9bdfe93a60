package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.adminhttp.Endpoint;
import dev.sluice.adminhttp.EventStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
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
    private String latest = "";
    private long latestAt;

    public DashboardStream(DashboardFeed feed, Duration every) {
        this.feed = feed;
        this.every = every;
    }

    @Override
    public void serve(HttpExchange exchange) throws IOException {
        EventStream events = EventStream.open(exchange, "sluice dashboard stream");
        if (events == null) {
            return;
        }
        long id = 0;
        try (events) {
            while (!closed) {
                Thread.sleep(every);
                events.send(EventStream.frame(++id, "snapshot", latest()));
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
    private synchronized String latest() throws IOException {
        long now = System.nanoTime();
        if (latest.isEmpty() || now - latestAt >= every.toNanos() / 2) {
            latest = JSON.writeValueAsString(feed.view());
            latestAt = now;
        }
        return latest;
    }

    @Override
    public void close() {
        closed = true;
    }
}
