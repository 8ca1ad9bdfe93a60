package dev.sluice.worker.limits.fleet;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * Rate tokens this node reserved ahead of its requests, so that a busy node asks the fleet's bucket once for many
 * Hub calls instead of once per call. Each token keeps the time the bucket gave it ({@link FleetStore.TokenTime}); a
 * request takes the earliest one still usable, and a token whose time plus the send budget passed unused expires (the
 * bucket counted it, the Hub never sees it). Tokens are reserved for about {@code horizonNanos} of this node's recent
 * use (never more than a fair share's worth), and only while {@code prefetching} (the rate per node is high enough to matter); global exactness holds
 * because every token still comes from the one bucket with its own time.
 */
final class TokenBuffer {
    private final ConcurrentLinkedDeque<FleetStore.TokenTime> tokens = new ConcurrentLinkedDeque<>();
    private final long horizonNanos;
    private volatile int maxAhead;
    private final BooleanSupplier prefetching;
    private volatile int perSecond;
    private volatile double fleetRate;
    private volatile double sendBudgetSeconds;
    private final java.util.function.IntSupplier nodes;
    private final LongAdder taken = new LongAdder();
    private final LongAdder expired = new LongAdder();
    private long lastTaken;
    private long lastSampleAt;
    /** Tokens this node used per second, smoothed. */
    private volatile double rate;

    /**
     * @param horizonNanos how far ahead of this node's use tokens are reserved
     * @param maxAhead     the most tokens reserved ahead at once
     * @param perSecond    the fleet's rate limit
     * @param fleetRate    the bucket's steady tokens per second
     * @param sendBudgetNanos how late after its time a token may still be used
     * @param nodes        the nodes that hold or wait for permits now (this one included): a fair share of the rate
     *                     is the limit over them
     */
    TokenBuffer(long horizonNanos, int maxAhead, BooleanSupplier prefetching, int perSecond, double fleetRate,
                long sendBudgetNanos, java.util.function.IntSupplier nodes, long now) {
        this.fleetRate = fleetRate;
        this.sendBudgetSeconds = sendBudgetNanos / 1e9;
        this.horizonNanos = horizonNanos;
        this.maxAhead = maxAhead;
        this.prefetching = prefetching;
        this.perSecond = perSecond;
        this.nodes = nodes;
        this.lastSampleAt = now;
    }

    /** The fleet's limits changed: what the reservations ahead are sized by from now on. */
    void retune(int perSecond, double fleetRate, long sendBudgetNanos) {
        this.maxAhead = Math.max(1, perSecond / 10);
        this.perSecond = perSecond;
        this.fleetRate = fleetRate;
        this.sendBudgetSeconds = sendBudgetNanos / 1e9;
    }

    /**
     * The earliest token still usable at {@code now} (its earliest time plus {@code sendBudgetNanos} not passed),
     * due no later than {@code deadline}; null when there is none.
     */
    FleetStore.TokenTime take(long now, long sendBudgetNanos, long deadline) {
        FleetStore.TokenTime t;
        while ((t = tokens.pollFirst()) != null) {
            if (t.askedAt() + t.waitNanos() + sendBudgetNanos - now <= 0) {
                expired.increment();
                continue;
            }
            if (t.answeredAt() + t.waitNanos() - deadline > 0) {
                tokens.addFirst(t); // due after this holder's deadline; a later holder may use it
                return null;
            }
            taken.increment();
            return t;
        }
        return null;
    }

    /** Counts a token a holder got straight from the bucket (for the rate of use). */
    void tookFromBucket() {
        taken.increment();
    }

    /** How many tokens to reserve beyond the {@code waiting} holders' own, for the requests soon to come. */
    int wanted(int waiting) {
        if (!prefetching.getAsBoolean()) {
            return 0;
        }
        // Never more than a fair share's worth ahead: tokens kept ahead serve this node's next requests sooner, and a
        // node that kept more than the others would draw a growing share of the bucket.
        double fair = (double) perSecond / Math.max(1, nodes.getAsInt());
        int target = (int) Math.min(maxAhead, Math.ceil(Math.min(rate, fair) * horizonNanos / 1e9));
        // The bucket times k tokens at the fleet's rate, not at this node's: they fall due within k / fleetRate, and
        // each expires a send budget after its time. A node using them at its own (lower) rate r uses only about
        // r * (k / fleetRate + budget) of them; reserve no more than that, or the rest expire unused (measured: a
        // horizon alone left a third of three slot-bound nodes' tokens to expire, 61.5% of the limit used instead of
        // 89.9%; docs/benchmarks.md).
        double r = Math.min(rate, fleetRate);
        double spread = Math.max(0.05, 1 - r / fleetRate);
        int usable = (int) Math.floor(0.8 * sendBudgetSeconds * r / spread);
        target = Math.min(target, usable);
        return Math.max(0, target - tokens.size());
    }

    /** Tokens reserved ahead, in time order (after any already kept). */
    void add(List<FleetStore.TokenTime> ahead) {
        tokens.addAll(ahead);
    }

    /** Samples the rate of use; called regularly (the keeper's round). */
    synchronized void sample(long now) {
        long dt = now - lastSampleAt;
        if (dt <= 0) {
            return;
        }
        long total = taken.sum();
        double current = (total - lastTaken) * 1e9 / dt;
        lastTaken = total;
        lastSampleAt = now;
        rate = rate == 0 ? current : 0.5 * rate + 0.5 * current;
    }

    /** Tokens reserved ahead that expired unused, since start. */
    long expired() {
        return expired.sum();
    }

    int size() {
        return tokens.size();
    }

    double rate() {
        return rate;
    }
}
