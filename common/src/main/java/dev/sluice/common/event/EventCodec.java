package dev.sluice.common.event;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/**
 * Reads and writes events as versioned JSON envelopes:
 * {@code {"v":1,"type":"heartbeat","node":"n1","ts":...,"seq":...,"payload":{...}}}. A reader never fails on a
 * record: it returns a {@link Decoded.Skipped} with the reason (malformed, unsupported version, unknown type),
 * which the caller counts.
 */
public final class EventCodec {

    /** The schema version this code writes and the newest it reads. */
    public static final int VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static final Map<String, Class<? extends EventPayload>> TYPES = Map.of(
            EventPayload.NodeStarted.TYPE, EventPayload.NodeStarted.class,
            EventPayload.NodeStopping.TYPE, EventPayload.NodeStopping.class,
            EventPayload.Heartbeat.TYPE, EventPayload.Heartbeat.class,
            EventPayload.BreakerTransition.TYPE, EventPayload.BreakerTransition.class,
            EventPayload.PoolPressure.TYPE, EventPayload.PoolPressure.class,
            EventPayload.JobDeadLettered.TYPE, EventPayload.JobDeadLettered.class,
            EventPayload.LimiterState.TYPE, EventPayload.LimiterState.class,
            EventPayload.LimitsChanged.TYPE, EventPayload.LimitsChanged.class,
            EventPayload.PauseChanged.TYPE, EventPayload.PauseChanged.class,
            EventPayload.OperatorAction.TYPE, EventPayload.OperatorAction.class);

    /** The result of reading one record. */
    public sealed interface Decoded {
        record Ok(Event event) implements Decoded {
        }

        /** Why the record was skipped: {@code malformed}, {@code unsupported-version} or {@code unknown-type}. */
        record Skipped(String reason, String detail) implements Decoded {
        }
    }

    private EventCodec() {
    }

    public static byte[] encode(Event event) {
        ObjectNode root = JSON.createObjectNode();
        root.put("v", event.schemaVersion());
        root.put("type", event.type());
        root.put("node", event.nodeId());
        root.put("ts", event.timestampMs());
        root.put("seq", event.sequence());
        root.set("payload", JSON.valueToTree(event.payload()));
        try {
            return JSON.writeValueAsBytes(root);
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot encode " + event, e);
        }
    }

    public static Decoded decode(byte[] bytes) {
        if (bytes == null) {
            return new Decoded.Skipped("malformed", "empty record");
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            return new Decoded.Skipped("malformed", java.util.Objects.requireNonNullElse(e.getMessage(), e.toString()));
        }
        if (root == null || !root.isObject() || !root.path("v").canConvertToInt() || !root.path("type").isTextual()
                || !root.path("node").isTextual() || !integral(root.path("ts")) || !integral(root.path("seq"))
                || !root.path("payload").isObject()) {
            return new Decoded.Skipped("malformed", "not an event envelope");
        }
        int version = root.get("v").asInt();
        if (version < 1 || version > VERSION) {
            return new Decoded.Skipped("unsupported-version", "schema version " + version);
        }
        Class<? extends EventPayload> type = TYPES.get(root.get("type").asText());
        if (type == null) {
            return new Decoded.Skipped("unknown-type", root.get("type").asText());
        }
        try {
            EventPayload payload = JSON.treeToValue(root.get("payload"), type);
            return new Decoded.Ok(new Event(version, root.get("node").asText(), root.get("ts").asLong(),
                    root.get("seq").asLong(), payload));
        } catch (JacksonException | IllegalArgumentException e) {
            return new Decoded.Skipped("malformed", java.util.Objects.requireNonNullElse(e.getMessage(), e.toString()));
        }
    }

    /** A whole number that fits a long: a missing time or sequence number must not read as 0. */
    private static boolean integral(JsonNode node) {
        return node.isIntegralNumber() && node.canConvertToLong();
    }
}
