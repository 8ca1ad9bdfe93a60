package dev.sluice.worker.limits;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * One node's limits, exact in any sliding second: at most {@code maxInFlight} permits held, and at most
 * {@code maxPerSecond} tokens handed out in any window of one second. The rate part keeps the times of the last
 * {@code maxPerSecond} grants in a ring; a new grant waits until the oldest of them is a full second old. A
 * 429's Retry-After stops all grants until it has passed.
 */
public final class LocalHubLimiter implements HubLimiter {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final Semaphore permits;
    private final long[] grants;
    private final LongSupplier nanoTime;
    private final ReentrantLock lock = new ReentrantLock(true);
    private int next;
    private volatile long pausedUntil;

    public LocalHubLimiter(int maxInFlight, int maxPerSecond) {
        this(maxInFlight, maxPerSecond, System::nanoTime);
    }

    LocalHubLimiter(int maxInFlight, int maxPerSecond, LongSupplier nanoTime) {
        this.permits = new Semaphore(maxInFlight, true);
        this.grants = new long[maxPerSecond];
        this.nanoTime = nanoTime;
        long start = nanoTime.getAsLong() - 2 * SECOND;
        java.util.Arrays.fill(grants, start);
        this.pausedUntil = start;
    }

    @Override
    public Permit acquire(Duration maxWait) throws InterruptedException {
        long deadline = nanoTime.getAsLong() + maxWait.toNanos();
        if (!permits.tryAcquire(maxWait.toNanos(), TimeUnit.NANOSECONDS)) {
            return null;
        }
        boolean granted = false;
        try {
            granted = takeToken(deadline);
        } finally {
            if (!granted) {
                permits.release();
            }
        }
        return granted ? permits::release : null;
    }

    private boolean takeToken(long deadline) throws InterruptedException {
        if (!lock.tryLock(Math.max(0, deadline - nanoTime.getAsLong()), TimeUnit.NANOSECONDS)) {
            return false;
        }
        try {
            while (true) {
                long now = nanoTime.getAsLong();
                long readyAt = Math.max(grants[next] + SECOND, pausedUntil);
                if (now >= readyAt) {
                    grants[next] = now;
                    next = (next + 1) % grants.length;
                    return true;
                }
                if (readyAt > deadline) {
                    return false;
                }
                TimeUnit.NANOSECONDS.sleep(readyAt - now);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void pauseFor(Duration retryAfter) {
        long until = nanoTime.getAsLong() + retryAfter.toNanos();
        if (until > pausedUntil) {
            pausedUntil = until;
        }
    }

    /** Permits free now. */
    public int availablePermits() {
        return permits.availablePermits();
    }
}
