package dev.sluice.worker.admin;

import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Answers {@code GET /api/status} from a snapshot at most {@code maxAge} old, so that requests, which need no
 * token, cost the node at most one snapshot per {@code maxAge} however many arrive. A worker's snapshot reads the
 * fleet's permit table from its owner (a call to the store), which a flood of requests must not multiply.
 *
 * <p>A snapshot's age runs from the moment it was asked for, on a monotonic ticker (nanoseconds, like
 * {@link System#nanoTime()}), so two snapshots always start at least {@code maxAge} apart. Requests that find it
 * expired share one refresh: one takes it while the others wait, and every request that waited takes its result,
 * even when the refresh itself outlasted {@code maxAge}. A snapshot that failed is kept like one that succeeded:
 * its failure is answered until it expires, so a failing source is not asked more often either.
 */
final class StatusCache {

    /** The default: at most one snapshot a second. */
    static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(1);

    private record Taken(long at, NodeStatus status, RuntimeException failure) {
    }

    private final Supplier<NodeStatus> source;
    private final long maxAgeNanos;
    private final LongSupplier ticker;
    private final ReentrantLock refresh = new ReentrantLock();
    private volatile Taken taken;

    StatusCache(Supplier<NodeStatus> source, Duration maxAge, LongSupplier ticker) {
        if (maxAge.isNegative() || maxAge.isZero()) {
            throw new IllegalArgumentException("the status cache's max age must be positive, but was " + maxAge);
        }
        this.source = source;
        this.maxAgeNanos = maxAge.toNanos();
        this.ticker = ticker;
    }

    /**
     * The current snapshot, taken now if the last one has expired.
     *
     * @throws IllegalStateException when the snapshot within {@code maxAge} failed (its failure is the cause)
     */
    NodeStatus get() {
        Taken seen = taken;
        if (fresh(seen, ticker.getAsLong())) {
            return answer(seen);
        }
        refresh.lock();
        try {
            Taken now = taken;
            // Another request refreshed after this one found the snapshot expired: share its result.
            if (now != seen || fresh(now, ticker.getAsLong())) {
                return answer(now);
            }
            long at = ticker.getAsLong();
            Taken next;
            try {
                next = new Taken(at, source.get(), null);
            } catch (RuntimeException e) {
                next = new Taken(at, null, e);
            }
            taken = next;
            return answer(next);
        } finally {
            refresh.unlock();
        }
    }

    private boolean fresh(Taken t, long now) {
        return t != null && now - t.at() < maxAgeNanos;
    }

    private NodeStatus answer(Taken t) {
        if (t.failure() != null) {
            throw new IllegalStateException("the node's status could not be taken: " + t.failure()
                    + " (asked again " + Duration.ofNanos(maxAgeNanos).toMillis() + " ms after the failed attempt)",
                    t.failure());
        }
        return t.status();
    }
}
