package dev.sluice.worker.queue;

import dev.sluice.worker.pool.RedisRefusal;

/**
 * A completion Redis refused: nothing of it was applied, the job stays pending for this node, and applying it
 * again later is safe (every completion checks first that the job is still this node's).
 */
public record Refused(Completion completion, RedisRefusal refusal) {
}
