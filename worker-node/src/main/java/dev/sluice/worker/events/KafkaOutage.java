package dev.sluice.worker.events;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.Locale;

/**
 * Whether this node's events currently reach Kafka, told to the log twice per outage: one WARN when it starts
 * (since when, why, what happens to events meanwhile) and one INFO when it ends (how long it lasted, how many events
 * were dropped and how many waited). The Kafka client's own WARN on every reconnect attempt is switched off in the
 * node's logback configuration, so an outage no longer fills the log with two lines every two seconds.
 *
 * <p>The publisher reports what it sees ({@link #began}, {@link #ended}); this class only keeps the state and the
 * wording. Thread-safe: the sender thread and the producer's I/O thread both report.
 */
final class KafkaOutage {
    private static final Logger log = LoggerFactory.getLogger(KafkaOutage.class);

    private final String bootstrapServers;
    private final int bufferCapacity;
    /** When the current outage started, in epoch milliseconds; -1 while Kafka answers. */
    private long sinceMillis = -1;
    private long droppedAtStart;

    KafkaOutage(String bootstrapServers, int bufferCapacity) {
        this.bootstrapServers = bootstrapServers;
        this.bufferCapacity = bufferCapacity;
    }

    /**
     * An event could not be delivered, or none was acknowledged for a while. Logs the start of an outage unless one
     * is already on; returns whether this call started it.
     *
     * @param sinceMillis  when the first send that got no answer was made
     * @param reason       what the producer said, or what was seen
     * @param droppedSoFar events the publisher has dropped since start
     */
    synchronized boolean began(long sinceMillis, String reason, long droppedSoFar) {
        if (this.sinceMillis >= 0) {
            return false;
        }
        this.sinceMillis = sinceMillis;
        this.droppedAtStart = droppedSoFar;
        String why = reason.endsWith(".") ? reason.substring(0, reason.length() - 1) : reason;
        log.warn("Kafka ({}) unreachable since {}: {}. Node events wait in a buffer of {} and, once it is full, newer "
                        + "ones are dropped (counted in sluice_events_dropped_total); this node keeps working. Logged once; "
                        + "one more line when Kafka answers again.",
                bootstrapServers, Instant.ofEpochMilli(sinceMillis), why, bufferCapacity);
        return true;
    }

    /**
     * Kafka acknowledged an event. Logs the end of the outage if one is on; returns whether this call ended it.
     *
     * @param nowMillis    when the acknowledgement came
     * @param droppedSoFar events the publisher has dropped since start
     * @param waiting      events buffered or sent and not yet acknowledged, which the outage held back
     */
    synchronized boolean ended(long nowMillis, long droppedSoFar, long waiting) {
        if (sinceMillis < 0) {
            return false;
        }
        log.info("Kafka ({}) reachable again after {} s (unreachable since {}): {} event(s) dropped meanwhile, {} "
                        + "delayed and being sent now",
                bootstrapServers, String.format(Locale.ROOT, "%.1f", (nowMillis - sinceMillis) / 1000.0),
                Instant.ofEpochMilli(sinceMillis), droppedSoFar - droppedAtStart, waiting);
        sinceMillis = -1;
        return true;
    }

    /** Whether an outage is on. */
    synchronized boolean isOn() {
        return sinceMillis >= 0;
    }
}
