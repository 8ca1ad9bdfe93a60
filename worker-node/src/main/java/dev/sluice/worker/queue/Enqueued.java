package dev.sluice.worker.queue;

import dev.sluice.worker.pool.RedisRefusal;

/**
 * What Redis did with a batch of new jobs: how many it accepted and, when it refused some (full, read-only), the
 * first refusal.
 *
 * @param accepted  jobs Redis stored
 * @param refused   jobs Redis refused
 * @param firstRefusal  why, or null when none was refused
 */
public record Enqueued(int accepted, int refused, RedisRefusal firstRefusal) {

    /** True when Redis stored every job of the batch. */
    public boolean all() {
        return refused == 0;
    }
}
