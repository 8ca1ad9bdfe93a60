package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.stream.StreamSupport;

/** A small HTTP client for the coordinator's endpoints, and a server-sent events reader. */
public final class Http {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Http() {
    }

    public static HttpResponse<String> request(URI base, String method, String path) {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static HttpResponse<String> get(URI base, String path) {
        return request(base, "GET", path);
    }

    public static JsonNode json(URI base, String path) {
        HttpResponse<String> response = get(base, path);
        if (response.statusCode() != 200) {
            throw new AssertionError("GET " + path + " answered " + response.statusCode() + ": " + response.body());
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The alerts in {@code list} (firing, pending, resolved) of {@code GET /api/alerts} with this alertname. */
    public static List<JsonNode> alerts(URI base, String list, String alertname) {
        JsonNode root = json(base, "/api/alerts");
        return StreamSupport.stream(root.path(list).spliterator(), false)
                .filter(a -> alertname.equals(a.path("labels").path("alertname").asText()))
                .toList();
    }

    /** One event of a server-sent event stream. */
    public record SseEvent(String id, String event, JsonNode data) {
    }

    /** Reads {@code GET path} as a server-sent event stream in the background, collecting its events. */
    public static final class SseReader implements AutoCloseable {
        private final List<SseEvent> events = new CopyOnWriteArrayList<>();
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
            HttpRequest request = builder.build();
            CLIENT.sendAsync(request, HttpResponse.BodyHandlers.fromLineSubscriber(new Flow.Subscriber<String>() {
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
                                events.add(new SseEvent(id, event, JSON.readTree(String.join("\n", data))));
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
            }));
        }

        public List<SseEvent> events() {
            return List.copyOf(events);
        }

        public List<String> comments() {
            return List.copyOf(comments);
        }

        /** True once the stream's opening comment arrived. */
        public boolean connected() {
            return !comments.isEmpty();
        }

        /** The events named {@code event} whose alert has this alertname. */
        public List<SseEvent> events(String event, String alertname) {
            return events.stream().filter(e -> e.event().equals(event)
                    && alertname.equals(e.data().path("alert").path("labels").path("alertname").asText())).toList();
        }

        @Override
        public void close() {
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
        }
    }
}
