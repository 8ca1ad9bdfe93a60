package dev.sluice.worker.queue;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.job.Job;

/**
 * How a delivery ends on this node. Each is applied atomically with the acknowledgement: a crash between the
 * two can neither lose nor duplicate the job.
 */
public sealed interface Completion {

    Delivery delivery();

    /** Done: remove it from the queue. */
    record Ack(Delivery delivery) implements Completion {
    }

    /** Failed recoverably: put {@code next} in the delayed set, due after {@code delayMs}. */
    record Retry(Delivery delivery, Job next, long delayMs) implements Completion {
    }

    /** Failed for good: move it to the dead-letter stream with its reason. */
    record DeadLetter(Delivery delivery, ErrorKind kind, String reason, int attempts) implements Completion {
    }

    /** Not started: give it back to the queue at once, for any node to take (graceful shutdown). */
    record HandBack(Delivery delivery) implements Completion {
    }
}
