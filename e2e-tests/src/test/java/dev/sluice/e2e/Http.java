package dev.sluice.e2e;

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
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.stream.StreamSupport;

/** A small HTTP client for the coordinator's and Alertmanager's JSON endpoints, and a server-sent events reader. */
final class Http {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Http() {
    }

    static HttpResponse<String> get(URI base, String path) {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).GET().build();
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + base.resolve(path) + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** True when {@code GET path} answers 200; false when it answers otherwise or cannot connect. */
    static boolean ok(URI base, String path) {
        try {
            return get(base, path).statusCode() == 200;
        } catch (UncheckedIOException e) {
            return false;
        }
    }

    static JsonNode json(URI base, String path) {
        HttpResponse<String> response = get(base, path);
        if (response.statusCode() != 200) {
            throw new AssertionError("GET " + base.resolve(path) + " answered " + response.statusCode() + ": "
                    + response.body());
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The alerts of {@code list} (firing, pending, resolved) in the coordinator's {@code GET /api/alerts}. */
    static List<JsonNode> alerts(URI coordinator, String list, String alertname, String node) {
        return StreamSupport.stream(json(coordinator, "/api/alerts").path(list).spliterator(), false)
                .filter(a -> matches(a.path("labels"), alertname, node))
                .toList();
    }

    /** True when {@code labels} has this alertname and, unless {@code node} is null, this node label. */
    static boolean matches(JsonNode labels, String alertname, String node) {
        return alertname.equals(labels.path("alertname").asText())
                && (node == null || node.equals(labels.path("node").asText()));
    }

    /** A node of the coordinator's {@code GET /api/cluster}, or a missing node when it is not known. */
    static JsonNode clusterNode(URI coordinator, String id) {
        for (JsonNode n : json(coordinator, "/api/cluster").path("nodes")) {
            if (n.path("id").asText().equals(id)) {
                return n;
            }
        }
        return JSON.missingNode();
    }

    /** One event of a server-sent event stream. */
    record SseEvent(String id, String event, JsonNode data) {
    }

    /** Reads {@code GET path} as a server-sent event stream in the background, collecting its events. */
    static final class SseReader implements AutoCloseable {
        private final List<SseEvent> events = new CopyOnWriteArrayList<>();
        private final List<String> comments = new CopyOnWriteArrayList<>();
        private volatile Flow.Subscription subscription;

        SseReader(URI base, String path) {
            HttpRequest request = HttpRequest.newBuilder(base.resolve(path)).GET().build();
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

        /** True once the stream's opening comment arrived. */
        boolean connected() {
            return !comments.isEmpty();
        }

        /** The events named {@code event} (pending, firing, resolved) about this alert. */
        List<SseEvent> events(String event, String alertname, String node) {
            return events.stream().filter(e -> e.event().equals(event)
                    && matches(e.data().path("alert").path("labels"), alertname, node)).toList();
        }

        @Override
        public void close() {
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
        }
    }

    /** A raw answer: status, headers (lower-case names), body. */
    record Answer(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(java.util.Locale.ROOT));
        }
    }

    static Answer get(String url, Map<String, String> headers) throws java.io.IOException {
        return raw("GET", url, headers, null);
    }

    static Answer post(String url, Map<String, String> headers, String body) throws java.io.IOException {
        return raw("POST", url, headers, body);
    }

    /**
     * One HTTP/1.1 request written by hand on a socket, so that any header can be sent as it is (the JDK's client
     * refuses to set {@code Host}).
     */
    static Answer raw(String method, String url, Map<String, String> headers, String body) throws java.io.IOException {
        URI u = URI.create(url);
        byte[] content = body == null ? new byte[0] : body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        StringBuilder req = new StringBuilder(method).append(' ').append(u.getRawPath()).append(" HTTP/1.1\r\n");
        Map<String, String> all = new java.util.LinkedHashMap<>();
        all.put("Host", u.getHost() + ":" + u.getPort());
        all.put("Connection", "close");
        all.putAll(headers);
        if (body != null) {
            all.put("Content-Length", Integer.toString(content.length));
        }
        all.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
        req.append("\r\n");
        try (java.net.Socket socket = new java.net.Socket(u.getHost(), u.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(req.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            socket.getOutputStream().write(content);
            socket.getOutputStream().flush();
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            int end = answer.indexOf("\r\n\r\n");
            String[] lines = answer.substring(0, end).split("\r\n");
            Map<String, String> got = new java.util.LinkedHashMap<>();
            for (int k = 1; k < lines.length; k++) {
                int colon = lines[k].indexOf(':');
                got.put(lines[k].substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT),
                        lines[k].substring(colon + 1).strip());
            }
            return new Answer(Integer.parseInt(lines[0].split(" ")[1]), got, answer.substring(end + 4));
        }
    }
}
