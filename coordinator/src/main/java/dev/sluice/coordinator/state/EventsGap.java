package dev.sluice.coordinator.state;

import java.time.Instant;
import java.util.Objects;

/**
 * A stretch of time during which the events could not be read (Kafka unreachable, the consumer far behind): from
 * the last time they were known to be read up to the end of the topic until the first time they were again. A
 * node's silence within it says nothing about the node, so it does not count towards the node's missed heartbeats.
 *
 * @param from  the events were last known to be current then
 * @param to    and current again from then on
 */
public record EventsGap(Instant from, Instant to) {

    public EventsGap {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (to.isBefore(from)) {
            throw new IllegalArgumentException("an events gap cannot end (" + to + ") before it begins (" + from + ")");
        }
    }
}
