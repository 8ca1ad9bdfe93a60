package dev.sluice.worker.pool;

import java.time.Instant;

/**
 * A sample of the shared Redis pool.
 *
 * @param max               pool size
 * @param active            connections borrowed now
 * @param idle              connections open and free
 * @param waiters           threads waiting to borrow
 * @param meanBorrowWaitMs  the pool's mean borrow wait
 * @param borrowTimeouts    borrows that timed out since start
 * @param sampledAt         when
 */
public record PoolHealth(int max, int active, int idle, int waiters, double meanBorrowWaitMs, long borrowTimeouts,
                         Instant sampledAt) {

    /** The share of connections that could still be borrowed: (max - active) / max. */
    public double availability() {
        return max == 0 ? 0.0 : (double) (max - active) / max;
    }

    /** The share in use, as the seed's alert speaks of it: active / max. */
    public double usage() {
        return 1.0 - availability();
    }
}
