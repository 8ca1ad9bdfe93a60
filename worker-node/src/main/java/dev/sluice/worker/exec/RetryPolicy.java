package dev.sluice.worker.exec;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;

import java.time.Duration;
import java.util.Set;

/**
 * The error policy: how a delivery ends, decided from what happened to it and nothing else (no Redis, no threads).
 * The {@link Worker} runs the job and asks this; {@code RetryPolicyTest} asks it for every {@link ErrorKind}.
 *
 * <ul>
 *   <li>Before a run: a malformed job, a job delivered more than {@code maxDeliveries} times (it keeps killing its
 *       worker), and a job of a type no handler takes are dead-lettered without running.</li>
 *   <li>After a failure: a job that never went out because the node stops or the fleet paused goes back to the queue
 *       unattempted. Otherwise a permanent kind is dead-lettered at once; a recoverable one is retried with backoff
 *       until {@code maxAttempts} attempts ran the handler. A failure that did not attempt the job (waiting for a
 *       permit, the breaker, a 429) retries without using an attempt.</li>
 * </ul>
 */
public final class RetryPolicy {
    private final int maxAttempts;
    private final int maxDeliveries;
    private final Backoff backoff;

    public RetryPolicy(int maxAttempts, int maxDeliveries, Backoff backoff) {
        this.maxAttempts = maxAttempts;
        this.maxDeliveries = maxDeliveries;
        this.backoff = backoff;
    }

    /** How a delivery ends, and the kind of failure behind it (null when it succeeded). */
    public record Decision(Completion completion, ErrorKind kind) {
    }

    /**
     * What ended an attempt.
     *
     * @param kind       the failure's kind, as classified where it happened
     * @param attempted  whether the attempt may have reached the Hub (it counts against {@code max_attempts})
     * @param reason     the failure's message, kept with a dead letter
     * @param retryAfter the upstream's Retry-After, or null
     * @param notSent    the job never went out and the node stops or the fleet paused: it goes back unattempted
     */
    public record Failure(ErrorKind kind, boolean attempted, String reason, Duration retryAfter, boolean notSent) {
    }

    /**
     * A delivery that must not run, and how it ends; null when it may run.
     *
     * @param handlerTypes the types this node has handlers for
     */
    public Decision beforeRun(Delivery d, Set<String> handlerTypes) {
        if (d.malformed()) {
            return dead(d, ErrorKind.BAD_JOB, d.parseError().getMessage(), 0);
        }
        if (d.deliveries() > maxDeliveries) {
            return dead(d, ErrorKind.INTERNAL, "poison: delivered " + d.deliveries()
                    + " times without completing (queue.max_deliveries = " + maxDeliveries + ")", d.job().attempts());
        }
        if (!handlerTypes.contains(d.job().type())) {
            return dead(d, ErrorKind.BAD_JOB, "no handler for job type '" + d.job().type() + "' (this node has "
                    + handlerTypes + ")", d.job().attempts());
        }
        return null;
    }

    /** The job ran and succeeded. */
    public Decision succeeded(Delivery d) {
        return new Decision(new Completion.Ack(d), null);
    }

    /** The job's attempt failed with {@code f}. */
    public Decision failed(Delivery d, Failure f) {
        if (f.notSent()) {
            return new Decision(new Completion.HandBack(d), ErrorKind.BACKPRESSURE);
        }
        int attempts = d.job().attempts() + (f.attempted() ? 1 : 0);
        if (!f.kind().recoverable()) {
            return dead(d, f.kind(), f.reason(), attempts);
        }
        if (f.attempted() && attempts >= maxAttempts) {
            return dead(d, f.kind(), "gave up after " + attempts + " attempts: " + f.reason(), attempts);
        }
        long delay = backoff.delayMs(Math.max(1, attempts), f.kind(), f.retryAfter());
        return new Decision(new Completion.Retry(d, d.job().withAttempts(attempts), delay), f.kind());
    }

    private static Decision dead(Delivery d, ErrorKind kind, String reason, int attempts) {
        return new Decision(new Completion.DeadLetter(d, kind, reason, attempts), kind);
    }
}
