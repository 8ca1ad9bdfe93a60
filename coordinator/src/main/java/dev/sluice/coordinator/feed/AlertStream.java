package dev.sluice.coordinator.feed;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.adminhttp.Endpoint;
import dev.sluice.adminhttp.EventStream;
import dev.sluice.coordinator.alerting.AlertCodec;
import dev.sluice.coordinator.alerting.AlertListener;
import dev.sluice.coordinator.alerting.AlertTransition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /api/alerts/stream}: every alert transition as a server-sent event, as it happens.
 *
 * <pre>
 * id: 42
 * event: firing
 * data: {"from":"pending","to":"firing","at":"…","alert":{…AlertCodec JSON…}}
 * </pre>
 *
 * <p>The event name is the new state ({@code pending}, {@code firing}, {@code resolved}, {@code inactive}). The last
 * {@value #REPLAY} events are kept: a client that reconnects with {@code Last-Event-ID} first gets those it missed.
 * A comment line is sent every {@code keepAlive} so dead clients are noticed; a client too slow to keep up with
 * {@value #CLIENT_BUFFER} events is dropped.
 */
public final class AlertStream implements AlertListener, Endpoint, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AlertStream.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int REPLAY = 1_000;
    static final int CLIENT_BUFFER = 1_000;
    private static final byte[] CLOSE = new byte[0];

    private record Sent(long id, byte[] frame) {
    }

    private final Duration keepAlive;
    private final Deque<Sent> recent = new ArrayDeque<>();
    private final Set<BlockingQueue<byte[]>> clients = new CopyOnWriteArraySet<>();
    private long lastId;
    private volatile boolean closed;

    public AlertStream(Duration keepAlive) {
        this.keepAlive = keepAlive;
    }

    @Override
    public void onTransitions(List<AlertTransition> transitions) {
        synchronized (this) {
            for (AlertTransition t : transitions) {
                Sent sent = new Sent(++lastId, frame(lastId, t));
                recent.addLast(sent);
                if (recent.size() > REPLAY) {
                    recent.removeFirst();
                }
                for (BlockingQueue<byte[]> client : clients) {
                    if (!client.offer(sent.frame())) {
                        clients.remove(client);
                        client.clear();
                        client.offer(CLOSE);
                    }
                }
            }
        }
    }

    private static byte[] frame(long id, AlertTransition t) {
        ObjectNode data = JSON.createObjectNode();
        data.put("from", t.from() == null ? null : t.from().wireName());
        data.put("to", t.to().wireName());
        data.put("at", t.at().toString());
        data.set("alert", AlertCodec.toJson(t.alert()));
        try {
            return EventStream.frame(id, t.to().wireName(), JSON.writeValueAsString(data));
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot write an alert event", e);
        }
    }

    /** The number of connected clients. */
    public int clients() {
        return clients.size();
    }

    @Override
    public void serve(HttpExchange exchange) throws IOException {
        if (closed) {
            return;
        }
        long after = lastEventId(exchange.getRequestHeaders().getFirst("Last-Event-ID"));
        EventStream events = EventStream.open(exchange, "sluice coordinator alert stream");
        if (events == null) {
            return;
        }
        BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(CLIENT_BUFFER + 1);
        List<byte[]> missed = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                events.close();
                return;
            }
            for (Sent sent : recent) {
                if (sent.id() > after) {
                    missed.add(sent.frame());
                }
            }
            clients.add(queue);
        }
        try (events) {
            for (byte[] frame : missed) {
                events.send(frame);
            }
            while (!closed) {
                byte[] frame = queue.poll(keepAlive.toMillis(), TimeUnit.MILLISECONDS);
                if (frame == CLOSE) {
                    break;
                }
                if (frame == null) {
                    events.keepAlive();
                } else {
                    events.send(frame);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            log.debug("alert stream client gone: {}", e.toString());
        } finally {
            clients.remove(queue);
        }
    }

    private static long lastEventId(String header) {
        if (header == null || header.isBlank()) {
            return Long.MAX_VALUE;
        }
        try {
            return Long.parseLong(header.strip());
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Ends every open stream. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            for (BlockingQueue<byte[]> client : clients) {
                client.clear();
                client.offer(CLOSE);
            }
        }
    }
}
