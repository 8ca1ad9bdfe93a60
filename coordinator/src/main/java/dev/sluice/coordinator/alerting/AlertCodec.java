package dev.sluice.coordinator.alerting;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Alerts as JSON, the one shape used on the alerts topic, in the HTTP feed and in its event stream:
 * {@code {"v":1,"fingerprint":"…","rule":"pool_usage","state":"firing","labels":{…},"annotations":{…},
 * "activeAt":"…","startsAt":"…","endsAt":null,"value":0.9,"updatedAt":"…"}}. Times are RFC 3339 in UTC.
 */
public final class AlertCodec {

    /** The schema version written; readers skip newer ones. */
    public static final int VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper();

    private AlertCodec() {
    }

    public static ObjectNode toJson(Alert alert) {
        ObjectNode node = JSON.createObjectNode();
        node.put("v", VERSION);
        node.put("fingerprint", alert.fingerprint());
        node.put("rule", alert.rule());
        node.put("state", alert.state().wireName());
        ObjectNode labels = node.putObject("labels");
        alert.labels().forEach(labels::put);
        ObjectNode annotations = node.putObject("annotations");
        alert.annotations().forEach(annotations::put);
        putTime(node, "activeAt", alert.activeAt());
        putTime(node, "startsAt", alert.startsAt());
        putTime(node, "endsAt", alert.endsAt());
        if (Double.isFinite(alert.value())) {
            node.put("value", alert.value());
        } else {
            node.putNull("value");
        }
        putTime(node, "updatedAt", alert.updatedAt());
        return node;
    }

    public static byte[] encode(Alert alert) {
        try {
            return JSON.writeValueAsBytes(toJson(alert));
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot encode alert " + alert.fingerprint(), e);
        }
    }

    /** The alert in {@code bytes}, or empty when they are not an alert this version can read. */
    public static Optional<Alert> decode(byte[] bytes) {
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node == null || !node.isObject() || node.path("v").asInt(0) < 1 || node.path("v").asInt() > VERSION) {
                return Optional.empty();
            }
            return Optional.of(new Alert(node.get("fingerprint").asText(), node.get("rule").asText(),
                    new TreeMap<>(strings(node.path("labels"))), strings(node.path("annotations")),
                    AlertState.fromWire(node.get("state").asText()), time(node, "activeAt"), time(node, "startsAt"),
                    time(node, "endsAt"), node.path("value").asDouble(Double.NaN), time(node, "updatedAt")));
        } catch (IOException | RuntimeException e) {
            // NullPointerException for missing fields, IllegalArgumentException for unknown states,
            // DateTimeParseException for bad times: all mean "not an alert we can read".
            return Optional.empty();
        }
    }

    private static Map<String, String> strings(JsonNode object) {
        Map<String, String> map = new TreeMap<>();
        object.properties().forEach(e -> map.put(e.getKey(), e.getValue().asText()));
        return map;
    }

    private static void putTime(ObjectNode node, String field, Instant time) {
        if (time == null) {
            node.putNull(field);
        } else {
            node.put(field, time.toString());
        }
    }

    private static Instant time(JsonNode node, String field) throws DateTimeParseException {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : Instant.parse(value.asText());
    }
}
