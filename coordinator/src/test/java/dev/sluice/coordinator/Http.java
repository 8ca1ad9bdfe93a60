package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testkit.JsonHttp;
import dev.sluice.testkit.SseReader;

import java.net.URI;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.stream.StreamSupport;

/** The coordinator's endpoints as its tests read them, on testkit's {@link JsonHttp} and {@link SseReader}. */
public final class Http {

    private Http() {
    }

    public static HttpResponse<String> request(URI base, String method, String path) {
        return JsonHttp.request(base, method, path);
    }

    public static HttpResponse<String> get(URI base, String path) {
        return JsonHttp.get(base, path);
    }

    public static JsonNode json(URI base, String path) {
        return JsonHttp.json(base, path);
    }

    /** The alerts in {@code list} (firing, pending, resolved) of {@code GET /api/alerts} with this alertname. */
    public static List<JsonNode> alerts(URI base, String list, String alertname) {
        JsonNode root = json(base, "/api/alerts");
        return StreamSupport.stream(root.path(list).spliterator(), false)
                .filter(a -> alertname.equals(a.path("labels").path("alertname").asText()))
                .toList();
    }

    /** The events named {@code event} of an alert stream whose alert has this alertname. */
    public static List<SseReader.Event> events(SseReader stream, String event, String alertname) {
        return stream.events(event, d -> alertname.equals(d.path("alert").path("labels").path("alertname").asText()));
    }
}
