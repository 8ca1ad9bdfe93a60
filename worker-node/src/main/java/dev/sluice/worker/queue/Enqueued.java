package dev.sluice.worker.queue;

import dev.sluice.worker.pool.RedisRefusal;
import dev.sluice.worker.pool.RedisRefusals;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;

import java.util.List;

/**
 * What Redis did with a batch of new jobs: how many it accepted and, when it refused some (full, read-only), the
 * first refusal. Every reply of the pipeline is read.
 *
 * @param accepted  jobs Redis stored
 * @param refused   jobs Redis refused
 * @param firstRefusal  why, or null when none was refused
 */
public record Enqueued(int accepted, int refused, RedisRefusal firstRefusal) {

    static Enqueued read(List<? extends Response<?>> replies, String command, RedisRefusals refusals) {
        int accepted = 0;
        int refused = 0;
        RedisRefusal first = null;
        for (Response<?> r : replies) {
            try {
                r.get();
                accepted++;
            } catch (JedisDataException e) {
                RedisRefusal refusal = refusals.refused(command, e);
                if (first == null) {
                    first = refusal;
                }
                refused++;
            }
        }
        if (accepted > 0) {
            refusals.accepted();
        }
        return new Enqueued(accepted, refused, first);
    }

    /** True when Redis stored every job of the batch. */
    public boolean all() {
        return refused == 0;
    }
}
