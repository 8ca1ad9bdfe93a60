package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.testkit.Alertmanager;
import dev.sluice.testkit.JsonHttp;
import dev.sluice.testkit.SseReader;

import java.net.URI;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;

/** The coordinator's and Alertmanager's endpoints as the end-to-end tests read them, on testkit's {@link JsonHttp}. */
final class Http {

    static final ObjectMapper JSON = JsonHttp.JSON;

    private Http() {
    }

    static HttpResponse<String> get(URI base, String path) {
        return JsonHttp.get(base, path);
    }

    /** True when {@code GET path} answers 200; false when it answers otherwise or cannot connect. */
    static boolean ok(URI base, String path) {
        return JsonHttp.ok(base, path);
    }

    static JsonNode json(URI base, String path) {
        return JsonHttp.json(base, path);
    }

    /** The alerts of {@code list} (firing, pending, resolved) in the coordinator's {@code GET /api/alerts}. */
    static List<JsonNode> alerts(URI coordinator, String list, String alertname, String node) {
        return StreamSupport.stream(json(coordinator, "/api/alerts").path(list).spliterator(), false)
                .filter(a -> matches(a.path("labels"), alertname, node))
                .toList();
    }

    /** The alerts {@code alertmanager} lists (not resolved) with this alertname and, unless null, this node. */
    static List<JsonNode> listed(Alertmanager alertmanager, String alertname, String node) {
        return alertmanager.alerts().stream().filter(a -> matches(a.path("labels"), alertname, node)).toList();
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

    /** The events named {@code event} (pending, firing, resolved) of an alert stream about this alert. */
    static List<SseReader.Event> events(SseReader stream, String event, String alertname, String node) {
        return stream.events(event, d -> matches(d.path("alert").path("labels"), alertname, node));
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
