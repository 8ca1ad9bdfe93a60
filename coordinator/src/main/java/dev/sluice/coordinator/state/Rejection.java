package dev.sluice.coordinator.state;

import java.util.List;
import java.util.Objects;

/**
 * Why the cluster state refused an event: a value outside what a node sends, or no room for another node. A refused
 * event is not applied at all, not even as a sign of life.
 *
 * @param reason  one of {@link #REASONS}, for a metric's label
 * @param detail  what was wrong, for a log line; values taken from the event are shortened and their control
 *                characters escaped
 */
public record Rejection(String reason, String detail) {

    public static final String NODE_ID = "invalid-node-id";
    public static final String TIMESTAMP = "invalid-timestamp";
    public static final String SEQUENCE = "invalid-sequence";
    public static final String HEARTBEAT_INTERVAL = "invalid-heartbeat-interval";
    public static final String COUNTERS = "invalid-counters";
    public static final String POOL_SAMPLE = "invalid-pool-sample";
    public static final String QUEUE_SAMPLE = "invalid-queue-sample";
    public static final String NAME = "invalid-name";
    public static final String VALUE = "invalid-value";
    public static final String TOO_MANY_NODES = "too-many-nodes";

    /** Every reason. */
    public static final List<String> REASONS = List.of(NODE_ID, TIMESTAMP, SEQUENCE, HEARTBEAT_INTERVAL, COUNTERS,
            POOL_SAMPLE, QUEUE_SAMPLE, NAME, VALUE, TOO_MANY_NODES);

    public Rejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(detail, "detail");
    }
}
