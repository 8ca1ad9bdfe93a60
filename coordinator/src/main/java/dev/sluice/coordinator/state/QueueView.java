package dev.sluice.coordinator.state;

import dev.sluice.common.event.EventPayload.QueueSample;

import java.time.Instant;

/**
 * A sample of the shared queue.
 *
 * @param node       the node that took it
 * @param sampledAt  when the coordinator saw it
 * @param sample     the sample
 */
public record QueueView(String node, Instant sampledAt, QueueSample sample) {
}
