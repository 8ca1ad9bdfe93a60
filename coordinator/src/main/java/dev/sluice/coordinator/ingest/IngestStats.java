package dev.sluice.coordinator.ingest;

import dev.sluice.coordinator.state.Rejection;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the events consumer took in: events by type, skipped records (not readable as an event) by reason
 * ({@code malformed}, {@code unsupported-version}, {@code unknown-type}), rejected events (readable, but refused by
 * the cluster state: a {@link Rejection} reason, or {@value #APPLY_FAILED} when applying one threw), and the
 * consumers replaced after a failure. Counted in Micrometer ({@code sluice.coordinator.events.consumed},
 * {@code sluice.coordinator.events.skipped}, {@code sluice.coordinator.events.rejected},
 * {@code sluice.coordinator.events.consumer_restarts}) and kept here for the JSON views.
 */
public final class IngestStats {

    /** The reason counted when applying an event to the state threw. */
    public static final String APPLY_FAILED = "apply-failed";

    private final MeterRegistry meters;
    private final Map<String, LongAdder> consumed = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> skipped = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> rejected = new ConcurrentHashMap<>();
    private final Map<String, Counter> consumedCounters = new ConcurrentHashMap<>();
    private final Counter consumerRestarts;

    public IngestStats(MeterRegistry meters) {
        this.meters = meters;
        for (String reason : new String[] {"malformed", "unsupported-version", "unknown-type"}) {
            skippedCounter(reason);
        }
        for (String reason : Rejection.REASONS) {
            rejectedCounter(reason);
        }
        rejectedCounter(APPLY_FAILED);
        consumerRestarts = Counter.builder("sluice.coordinator.events.consumer_restarts")
                .description("Events consumers replaced by a new one after an unexpected failure").register(meters);
    }

    void consumerRestarted() {
        consumerRestarts.increment();
    }

    /** Events consumers replaced after an unexpected failure, since start. */
    public long consumerRestarts() {
        return (long) consumerRestarts.count();
    }

    void consumed(String type) {
        consumed.computeIfAbsent(type, t -> new LongAdder()).increment();
        consumedCounters.computeIfAbsent(type, t -> Counter.builder("sluice.coordinator.events.consumed")
                .description("Node events applied to the cluster state").tag("type", t).register(meters)).increment();
    }

    void skipped(String reason) {
        skipped.computeIfAbsent(reason, r -> new LongAdder()).increment();
        skippedCounter(reason).increment();
    }

    private Counter skippedCounter(String reason) {
        return Counter.builder("sluice.coordinator.events.skipped")
                .description("Records on the events topic skipped, by reason").tag("reason", reason).register(meters);
    }

    void rejected(String reason) {
        rejected.computeIfAbsent(reason, r -> new LongAdder()).increment();
        rejectedCounter(reason).increment();
    }

    private Counter rejectedCounter(String reason) {
        return Counter.builder("sluice.coordinator.events.rejected")
                .description("Events refused by the cluster state (values out of bounds, no room for another node), "
                        + "by reason").tag("reason", reason).register(meters);
    }

    public Map<String, Long> consumedByType() {
        return snapshot(consumed);
    }

    public Map<String, Long> skippedByReason() {
        return snapshot(skipped);
    }

    public Map<String, Long> rejectedByReason() {
        return snapshot(rejected);
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counts) {
        Map<String, Long> copy = new TreeMap<>();
        counts.forEach((k, v) -> copy.put(k, v.sum()));
        return copy;
    }
}
