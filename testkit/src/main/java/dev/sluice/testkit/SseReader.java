package dev.sluice.testkit;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.function.Predicate;

/** Reads {@code GET path} as a server-sent event stream in the background, collecting its events and comments. */
public final class SseReader implements AutoCloseable {

    /** One event of the stream, its data parsed as JSON. */
    public record Event(String id, String event, JsonNode data) {
    }

    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final List<String> comments = new CopyOnWriteArrayList<>();
    private volatile Flow.Subscription subscription;

    public SseReader(URI base, String path) {
        this(base, path, null);
    }

    /** Reads the stream, sending {@code Last-Event-ID} when {@code lastEventId} is not null. */
    public SseReader(URI base, String path, String lastEventId) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).GET();
        if (lastEventId != null) {
            builder.header("Last-Event-ID", lastEventId);
        }
        JsonHttp.CLIENT.sendAsync(builder.build(), HttpResponse.BodyHandlers.fromLineSubscriber(new Lines()));
    }

    private final class Lines implements Flow.Subscriber<String> {
        private String id;
        private String event;
        private final List<String> data = new ArrayList<>();

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
            if (line.isEmpty()) {
                if (event != null) {
                    try {
                        events.add(new Event(id, event, JsonHttp.JSON.readTree(String.join("\n", data))));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                id = null;
                event = null;
                data.clear();
            } else if (line.startsWith(":")) {
                comments.add(line);
            } else if (line.startsWith("id: ")) {
                id = line.substring(4);
            } else if (line.startsWith("event: ")) {
                event = line.substring(7);
            } else if (line.startsWith("data: ")) {
                data.add(line.substring(6));
            }
        }

        @Override
        public void onError(Throwable throwable) {
        }

        @Override
        public void onComplete() {
        }
    }

    public List<Event> events() {
        return List.copyOf(events);
    }

    /** The events named {@code event} whose data matches {@code data}. */
    public List<Event> events(String event, Predicate<JsonNode> data) {
        return events.stream().filter(e -> e.event().equals(event) && data.test(e.data())).toList();
    }

    public List<String> comments() {
        return List.copyOf(comments);
    }

    /** True once the stream's opening comment arrived. */
    public boolean connected() {
        return !comments.isEmpty();
    }

    @Override
    public void close() {
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
    }
}
