package dev.sluice.worker.limits.fleet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * This node's share of the fleet's in-flight permits, kept between requests so that a busy node does not ask the
 * store for a permit and give it back on every Hub call. A permit a request gave back stays held (idle) while the node
 * may need it: the next request takes it without a store call. One background call every {@code renewEvery} starts
 * the lease of every held permit again (a side without the grantor lease may renew what it holds), so a kept permit
 * always covers a request that leaves soon.
 *
 * <p>Shares follow demand: an idle permit nobody took for {@code idleRelease} goes back to the fleet; while other
 * nodes hold or wait for permits, this node keeps no more than its fair share (the limit over the nodes that hold or
 * wait for permits), giving back idle ones at once and busy ones as their requests end; it may still take more from
 * the table while some are free, one request at a time. Below about 20 requests a second per
 * node ({@code keeping} false) nothing is kept: each request takes and gives back its own permit, as before.
 */
final class PermitShare {
    private static final Logger log = LoggerFactory.getLogger(PermitShare.class);

    private final FleetStore store;
    private volatile int limit;
    /** Bumped when the in-flight limit is lowered: permits of an earlier generation are not kept. */
    private volatile int generation;
    private final long leaseMs;
    private final long idleReleaseNanos;
    private final LongSupplier nanoTime;
    private final BooleanSupplier keeping;
    private final LongConsumer onPause;
    private final Set<HeldPermit> held = ConcurrentHashMap.newKeySet();
    private final LinkedBlockingDeque<HeldPermit> idle = new LinkedBlockingDeque<>();
    private volatile int holders = 1;
    private volatile int othersWaiting;
    private volatile int free;

    /**
     * @param keeping whether permits are kept between requests now (the rate per node is high enough to matter)
     * @param onPause told of a 429 pause (ms) a renewal found in the table
     */
    PermitShare(FleetStore store, int limit, long leaseMs, long idleReleaseNanos, LongSupplier nanoTime,
                BooleanSupplier keeping, LongConsumer onPause) {
        this.store = store;
        this.limit = limit;
        this.leaseMs = leaseMs;
        this.idleReleaseNanos = idleReleaseNanos;
        this.nanoTime = nanoTime;
        this.keeping = keeping;
        this.onPause = onPause;
    }

    /** The table's demand as the latest batch reply gave it. */
    void demand(int holders, int othersWaiting, int free) {
        this.holders = Math.max(1, holders);
        this.othersWaiting = othersWaiting;
        this.free = free;
    }

    /**
     * The fleet's in-flight limit changed to {@code limit}. When it went down, this node keeps none of the permits it
     * holds: idle ones go back now, busy ones when their requests end, and new requests ask the table, which grants
     * only while fewer than the new limit run.
     */
    void limitChanged(int limit) {
        boolean lowered = limit < this.limit;
        this.limit = limit;
        if (lowered) {
            generation++;
            releaseIdle();
        }
    }

    /** A kept idle permit for a request, the one used last first, or null when none is kept. */
    HeldPermit take() {
        HeldPermit p;
        while ((p = idle.pollFirst()) != null) {
            if (p.generation != generation) {
                release(p);
                continue;
            }
            if (!p.lost()) {
                return p;
            }
            held.remove(p);
        }
        return null;
    }

    /**
     * Whether a request that found no kept permit should ask the fleet's table for one: while this node keeps permits,
     * only below the share every node is sure of (the limit over the nodes that hold or wait, rounded down) or while
     * the table had permits free at the last look. Otherwise its requests wait for one of the node's own permits to
     * come back, without a store call ({@link #awaitKept}), instead of queuing behind a table nobody gives back to.
     */
    boolean mayAskTable() {
        return !keeping.getAsBoolean() || held.size() < Math.max(1, limit / holders) || free > 0;
    }

    /** Waits up to {@code nanos} for a kept permit to come back from a request; null when none did. */
    HeldPermit awaitKept(long nanos) throws InterruptedException {
        long end = System.nanoTime() + nanos;
        HeldPermit p;
        while ((p = idle.pollFirst(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS)) != null) {
            if (p.generation != generation) {
                release(p);
                continue;
            }
            if (!p.lost()) {
                return p;
            }
            held.remove(p);
        }
        return null;
    }

    /** A permit the store just granted to this node. */
    HeldPermit granted(String id, long leaseFrom) {
        HeldPermit p = new HeldPermit(id, leaseFrom, generation);
        held.add(p);
        return p;
    }

    /** A request ended with {@code p}: kept idle for the next one, or given back to the fleet. */
    void giveBack(HeldPermit p) {
        if (p.lost()) {
            held.remove(p);
            return;
        }
        if (keeping.getAsBoolean() && !overShare() && p.generation == generation) {
            p.idleSince = nanoTime.getAsLong();
            idle.addFirst(p);
            return;
        }
        release(p);
    }

    /** A request's end at the Hub is unknown: its permit is left to its lease, never renewed or used again. */
    void leaveToLease(HeldPermit p) {
        held.remove(p);
    }

    /** Gives the permit back to the fleet (a request whose acquire failed after the grant, or one not kept). */
    void release(HeldPermit p) {
        held.remove(p);
        store.releaseAsync(p.id);
    }

    /**
     * This node holds more than its fair share: the limit over the nodes that hold or wait for permits, when another
     * node holds or waits for some (a node alone keeps what it needs, up to the limit).
     */
    private boolean overShare() {
        return (holders > 1 || othersWaiting > 0) && held.size() > fairShare();
    }

    /** The nodes that hold or wait for permits, as the latest batch reply gave it (at least 1). */
    int nodes() {
        return holders;
    }

    int fairShare() {
        return Math.max(1, (limit + holders - 1) / holders);
    }

    /** Permits this node holds now (in use or idle). */
    int held() {
        return held.size();
    }

    int idle() {
        return idle.size();
    }

    /**
     * The keeper's round: gives back idle permits nobody took for a while (and those over the fair share while others
     * wait), then, when {@code renew}, starts the lease of every permit still held again, in one store call.
     */
    void keep(boolean renew) throws StoreFailure, InterruptedException {
        long now = nanoTime.getAsLong();
        boolean keep = keeping.getAsBoolean();
        for (Iterator<HeldPermit> it = idle.descendingIterator(); it.hasNext(); ) {
            HeldPermit p = it.next();
            if ((!keep || now - p.idleSince >= idleReleaseNanos || overShare()) && idle.removeLastOccurrence(p)) {
                release(p);
            }
        }
        // Below the hot path each request renews its own permit when it needs to (FleetPermit): no background call.
        List<HeldPermit> renewing = keep && renew ? new ArrayList<>(held) : List.of();
        if (renewing.isEmpty()) {
            return;
        }
        long asked = nanoTime.getAsLong();
        List<PermitTable.Reply> replies = store.renewAll(renewing.stream().map(p -> p.id).toList(), leaseMs);
        long pauseMs = 0;
        for (int i = 0; i < renewing.size(); i++) {
            HeldPermit p = renewing.get(i);
            PermitTable.Reply r = replies.get(i);
            if (r.state() == PermitTable.State.RENEWED) {
                p.renewedFrom(asked);
            } else {
                p.lose();
                held.remove(p);
                idle.remove(p);
                log.debug("kept permit {} is gone from the fleet's table ({}); dropped", p.id, r.state());
            }
            pauseMs = Math.max(pauseMs, r.pauseMs());
        }
        if (pauseMs > 0) {
            onPause.accept(pauseMs);
        }
    }

    /** Gives back every idle permit (the limiter closes). */
    void releaseIdle() {
        HeldPermit p;
        while ((p = idle.pollFirst()) != null) {
            release(p);
        }
    }
}
