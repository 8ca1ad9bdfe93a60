package dev.sluice.worker.queue;

import java.util.Map;

/**
 * What the queue holds now.
 *
 * @param mode                 stream or list
 * @param waiting              jobs not yet delivered to any node
 * @param pending              delivered and not yet completed
 * @param delayed              waiting for a retry
 * @param dead                 in the dead-letter stream
 * @param oldestWaitingAgeMs   age of the oldest job not yet delivered, or 0 when none waits (-1 when unknown)
 * @param pendingByConsumer    pending jobs per node
 */
public record QueueStats(String mode, long waiting, long pending, long delayed, long dead, long oldestWaitingAgeMs,
                         Map<String, Long> pendingByConsumer) {

    /** Everything not finished: waiting, pending and delayed. */
    public long backlog() {
        return waiting + pending + delayed;
    }
}
