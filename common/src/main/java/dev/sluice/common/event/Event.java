package dev.sluice.common.event;

import java.util.Objects;

/**
 * One event on the events topic, keyed by node id.
 *
 * @param schemaVersion  {@link EventCodec#VERSION} of the writer; readers refuse newer versions
 * @param nodeId         the node that sent it
 * @param timestampMs    when, in epoch milliseconds (the node's clock)
 * @param sequence       per-node sequence number, rising by one per event from the node's start
 * @param payload        what happened
 */
public record Event(int schemaVersion, String nodeId, long timestampMs, long sequence, EventPayload payload) {

    public Event {
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(payload, "payload");
    }

    public String type() {
        return payload.type();
    }
}
