package dev.sluice.coordinator.state;

import dev.sluice.common.event.EventPayload.PoolSample;

import java.time.Instant;

/**
 * The last Redis pool sample of a node.
 *
 * @param sample        the sample
 * @param sampledAt     when the coordinator saw it
 * @param underPressure whether the node last reported its pool under pressure (pool-pressure events)
 */
public record PoolView(PoolSample sample, Instant sampledAt, boolean underPressure) {
}
