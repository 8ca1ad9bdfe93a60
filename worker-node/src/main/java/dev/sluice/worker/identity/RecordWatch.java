package dev.sluice.worker.identity;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Judges node records ({@link NodeRecord}) alive or dead from what this process reads of them, on its own monotonic
 * clock: never by key expiry, never by comparing clocks. The one rule behind a starting node's wait for the holder
 * of its id ({@link NodeRecord#claim()}) and list mode's judgement of the other nodes.
 *
 * <p>A record whose incarnation or {@code seq} changed since the last reading is alive, and its clock starts again.
 * One that has shown the same incarnation and {@code seq} for a full lease, counted from the first reading that
 * showed them, stood still: its holder is gone (crashed, or cut off from Redis for that long). The lease is this
 * observer's, or the one the record states when that is longer, so a holder renewing on a longer lease than this
 * node's is never taken for dead. An absent record says so; what that means is the caller's to decide.
 *
 * <p>Holds what it saw per node id; one observer thread at a time.
 */
public final class RecordWatch {

    /** What one reading says of a record. */
    public enum Verdict {
        /** The record changed since the last reading, or is read for the first time: its clock starts. */
        MOVED,
        /** Unchanged, for less than a lease so far. */
        STILL,
        /** Unchanged for a full lease: its holder is gone. */
        STOOD_STILL,
        /** There is no record. */
        ABSENT
    }

    /** A record as read: all null when there is none. {@code leaseMs} is the lease its holder renews on. */
    public record Reading(String incarnation, String seq, String leaseMs) {
        static final Reading NONE = new Reading(null, null, null);

        public boolean absent() {
            return incarnation == null;
        }

        /** The holder's stated lease, or {@code fallback} when the record states none (or nonsense). */
        Duration lease(Duration fallback) {
            if (leaseMs == null) {
                return fallback;
            }
            try {
                long ms = Long.parseLong(leaseMs);
                return ms > 0 ? Duration.ofMillis(ms) : fallback;
            } catch (NumberFormatException e) {
                return fallback;
            }
        }
    }

    private record Sighting(String incarnation, String seq, long since) {
    }

    private final Duration lease;
    private final LongSupplier nanoTime;
    private final Map<String, Sighting> seen = new HashMap<>();
    private final Map<String, Duration> leases = new HashMap<>();

    /**
     * @param lease     this node's {@code node.lease_ms}
     * @param nanoTime  this process's monotonic clock
     */
    public RecordWatch(Duration lease, LongSupplier nanoTime) {
        this.lease = lease;
        this.nanoTime = nanoTime;
    }

    /** Judges one reading of {@code nodeId}'s record, taken just now. */
    public Verdict observe(String nodeId, Reading reading) {
        long now = nanoTime.getAsLong();
        if (reading.absent()) {
            forget(nodeId);
            return Verdict.ABSENT;
        }
        Duration judged = max(lease, reading.lease(lease));
        leases.put(nodeId, judged);
        Sighting last = seen.get(nodeId);
        if (last == null || !last.incarnation().equals(reading.incarnation())
                || !Objects.equals(last.seq(), reading.seq())) {
            seen.put(nodeId, new Sighting(reading.incarnation(), reading.seq(), now));
            return Verdict.MOVED;
        }
        return now - last.since() >= judged.toNanos() ? Verdict.STOOD_STILL : Verdict.STILL;
    }

    /** How long {@code nodeId}'s record, as last read, has yet to stand still before it is judged; zero once it has. */
    public Duration remaining(String nodeId) {
        Sighting last = seen.get(nodeId);
        if (last == null) {
            return lease;
        }
        long left = leases.getOrDefault(nodeId, lease).toNanos() - (nanoTime.getAsLong() - last.since());
        return Duration.ofNanos(Math.max(0, left));
    }

    /** The lease judged for {@code nodeId}'s record as last read: this observer's, or the record's when longer. */
    public Duration leaseOf(String nodeId) {
        return leases.getOrDefault(nodeId, lease);
    }

    /** Drops what was seen of {@code nodeId}: its next reading starts its clock again. */
    public void forget(String nodeId) {
        seen.remove(nodeId);
        leases.remove(nodeId);
    }

    /** Drops what was seen of every node not in {@code nodeIds}. */
    public void retainOnly(Collection<String> nodeIds) {
        seen.keySet().retainAll(nodeIds);
        leases.keySet().retainAll(nodeIds);
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
