package dev.sluice.worker.hub;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The heap a node lets Hub answer bodies take at once, in bytes: what keeps a node at high concurrency alive when
 * every answer is large and results cannot be written for a while.
 *
 * <h2>Contract</h2>
 * Every Hub call reserves room for an answer of {@code hub.max_response_bytes} here <em>before</em> it waits for a
 * fleet permit (so it never holds a permit while it waits for room), returns the part it does not need as soon as the
 * answer's {@code Content-Length} is known (or the body has been read), and keeps the rest while the body is in the
 * job's hands. A body leaves the budget when the thread that fetched it
 * <ol>
 *   <li>calls {@link #releaseHeldByCurrentThread()}: the {@code hub-fetch} handler does so once the job's result is
 *       written (or writing it failed);</li>
 *   <li>fetches another body: a thread's earlier body is taken to be done with (and must not stand in the way of
 *       its own next reservation); or</li>
 *   <li>ends: every job runs on a thread of its own, so a handler that forgets the release gives the room back when
 *       its job ends ({@link #releaseAbandoned()}, run every second by the Hub client).</li>
 * </ol>
 * Waiting is first come, first served. The room is counted in whole KiB.
 *
 * <h2>What a body costs</h2>
 * A body is charged twice its size ({@link #heapCost}): what it may really take of the heap. It must be one
 * contiguous array (the sink takes a {@code byte[]}), and under G1 an array of half a heap region or more is
 * "humongous" and takes whole regions: a body of exactly 1 MiB takes two 1 MiB regions at {@code -Xmx256m}. A body
 * read without a {@code Content-Length} is also copied once at its end, twice its size for that moment.
 *
 * <h2>Size</h2>
 * {@link #forHeap} takes a quarter of the maximum heap, and never less than one largest answer: at {@code -Xmx256m}
 * 64 MiB, i.e. 32 answers of the default 1 MiB being read or waiting to be written at once, whatever the node's
 * concurrency. A quarter, not more: a body given back once its result is written may still be referenced for a
 * moment by the sink's batch (until the batch is done), while a waiting call already reads a new one, so bodies can
 * take up to twice the budget, half the heap, at worst; the other half is the node's. Shown by
 * {@code LargeAnswersProcessTest}: concurrency 500, 1 MiB answers, {@code -Xmx256m}, Redis refusing writes for 20 s
 * (without the budget that node runs out of heap).
 */
public final class BodyBudget {
    private static final Logger log = LoggerFactory.getLogger(BodyBudget.class);
    private static final int UNIT = 1024;
    private static final ThreadLocal<List<Reservation>> KEPT = new ThreadLocal<>();

    private final long capacityBytes;
    private final Semaphore units;
    private final Set<Reservation> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger peakBodies = new AtomicInteger();
    private final LongAdder abandoned = new LongAdder();

    private BodyBudget(long capacityBytes) {
        long capacityUnits = capacityBytes / UNIT;
        if (capacityUnits < 1 || capacityUnits > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a Hub body budget must be between 1 KiB and " + Integer.MAX_VALUE
                    + " KiB, but was " + capacityBytes + " bytes");
        }
        this.capacityBytes = capacityUnits * UNIT;
        this.units = new Semaphore((int) capacityUnits, true);
    }

    /** A budget of exactly {@code capacityBytes} (rounded down to whole KiB). */
    public static BodyBudget ofBytes(long capacityBytes) {
        return new BodyBudget(capacityBytes);
    }

    /** A quarter of {@code maxHeapBytes}, and at least one answer of {@code maxResponseBytes}. */
    public static BodyBudget forHeap(long maxResponseBytes, long maxHeapBytes) {
        long quarter = maxHeapBytes / 4;
        long oneAnswer = unitsFor(maxResponseBytes) * UNIT;
        if (oneAnswer > quarter) {
            log.warn("one Hub answer of hub.max_response_bytes ({} bytes, charged {}) is more than a quarter of the "
                    + "{} byte heap: one answer at a time, and the heap may not hold it; raise -Xmx or lower "
                    + "hub.max_response_bytes", maxResponseBytes, oneAnswer, maxHeapBytes);
        }
        return new BodyBudget(Math.min((long) Integer.MAX_VALUE * UNIT, Math.max(oneAnswer, quarter)));
    }

    /** What a body of {@code bodyBytes} is charged: twice its size (see the class description). */
    public static long heapCost(long bodyBytes) {
        return 2 * Math.max(0, bodyBytes);
    }

    /** The whole KiB charged for a body of {@code bodyBytes}. */
    private static long unitsFor(long bodyBytes) {
        return (heapCost(bodyBytes) + UNIT - 1) / UNIT;
    }

    /**
     * Waits up to {@code maxWait} for room for a body of {@code bytes}; null when none came in time.
     *
     * @throws IllegalArgumentException when such a body can never fit the budget
     * @throws InterruptedException     when the waiting thread is interrupted (the node is draining)
     */
    Reservation reserve(long bytes, Duration maxWait) throws InterruptedException {
        long wanted = unitsFor(bytes);
        if (wanted * UNIT > capacityBytes) {
            throw new IllegalArgumentException("an answer of " + bytes + " bytes (charged " + heapCost(bytes)
                    + ") can never fit a Hub body budget of " + capacityBytes + " bytes");
        }
        if (!units.tryAcquire((int) wanted, Math.max(0, maxWait.toNanos()), TimeUnit.NANOSECONDS)) {
            return null;
        }
        Reservation r = new Reservation((int) wanted, Thread.currentThread());
        open.add(r);
        peakBodies.accumulateAndGet(open.size(), Math::max);
        return r;
    }

    /**
     * Releases the bodies the current thread fetched and still holds: call it once the job is done with them (its
     * result written, or writing it failed). Does nothing when the thread holds none.
     */
    public static void releaseHeldByCurrentThread() {
        List<Reservation> kept = KEPT.get();
        if (kept == null) {
            return;
        }
        KEPT.remove();
        for (Reservation r : kept) {
            r.close();
        }
    }

    /** Releases the bodies held by threads that have ended without releasing them; returns how many. */
    public int releaseAbandoned() {
        int released = 0;
        for (Reservation r : open) {
            if (r.ownerEnded() && r.release()) {
                released++;
            }
        }
        abandoned.add(released);
        return released;
    }

    /** The whole budget, in bytes. */
    public long capacityBytes() {
        return capacityBytes;
    }

    /** Bytes reserved now (each body charged {@link #heapCost}), by answers being read and bodies being held. */
    public long reservedBytes() {
        return capacityBytes - (long) units.availablePermits() * UNIT;
    }

    /** Answers being read or held now. */
    public int bodies() {
        return open.size();
    }

    /** The most answers read or held at one time. */
    public int peakBodies() {
        return peakBodies.get();
    }

    /** Hub calls waiting for room now (roughly, as {@link Semaphore#getQueueLength()} is). */
    public int waiting() {
        return units.getQueueLength();
    }

    /** Bodies given back because their thread ended without releasing them. */
    public long abandoned() {
        return abandoned.sum();
    }

    /** Room taken for one Hub answer. Thread-safe; closing it twice is harmless. */
    final class Reservation implements AutoCloseable {
        // Dropped on release: the JDK client keeps a pooled connection's first exchange, and with it this
        // reservation (through the answer's handler), for as long as the connection lives; a thread held here
        // would keep its ended job, and the job's data, in the heap with it.
        private Thread owner;
        private int held;
        private boolean closed;

        private Reservation(int units, Thread owner) {
            this.held = units;
            this.owner = owner;
        }

        /** Gives back all but {@code bytes} (the answer turned out smaller than reserved). Never grows. */
        synchronized void shrinkTo(long bytes) {
            int keep = (int) Math.min(held, unitsFor(bytes));
            if (!closed && keep < held) {
                units.release(held - keep);
                held = keep;
            }
        }

        /** The body now lives in the job's hands: held until the thread releases it, fetches again or ends. */
        void keepForCurrentThread() {
            List<Reservation> kept = KEPT.get();
            if (kept == null) {
                kept = new ArrayList<>(1);
                KEPT.set(kept);
            }
            kept.add(this);
        }

        /** True when the thread that took it has ended without releasing it. */
        synchronized boolean ownerEnded() {
            return !closed && !owner.isAlive();
        }

        /** Bytes charged. */
        synchronized long bytes() {
            return closed ? 0 : (long) held * UNIT;
        }

        @Override
        public void close() {
            release();
        }

        private boolean release() {
            synchronized (this) {
                if (closed) {
                    return false;
                }
                closed = true;
                // Out of the count before its room is free, so the count never shows more bodies than fit.
                open.remove(this);
                units.release(held);
                held = 0;
                owner = null;
            }
            return true;
        }
    }
}
