package dev.sluice.worker.limits;

import io.micrometer.core.instrument.MeterRegistry;

import java.time.Duration;

/**
 * What a Hub call must hold: a concurrency permit and a rate token. The local implementation keeps one node
 * within the limits; the fleet-wide implementation (Hazelcast) replaces it behind this seam.
 */
public interface HubLimiter extends AutoCloseable {

    /**
     * Waits up to {@code maxWait} for a permit, then a token. Returns null when either did not come in time.
     *
     * @throws InterruptedException when the waiting thread is interrupted (the node is draining)
     */
    Permit acquire(Duration maxWait) throws InterruptedException;

    /**
     * Held for the length of one Hub request. Closing it says the request surely ended at the Hub (its response
     * arrived, or it never left) and releases the concurrency permit.
     */
    interface Permit extends AutoCloseable {
        @Override
        void close();

        /**
         * The request's end at the Hub is unknown (it timed out, or the connection dropped after it was sent): the
         * permit stays counted until its lease (request timeout plus grace) runs out, where the limiter keeps leases.
         * A limiter without leases releases it at once.
         */
        default void keepUntilLeaseEnd() {
            close();
        }

        /**
         * Whether the request may still leave now. A limiter that times tokens for the Hub's sliding second says no
         * once the token's time plus its lateness budget has passed: a request leaving later could crowd a later
         * second at the Hub. The caller asks at the last moment before the request's first byte is written (after
         * the connection is made) and, when it is too late, takes a new token with {@link #renewToken}.
         */
        default boolean onTime() {
            return true;
        }

        /**
         * Replaces the token of a request that did not leave in time, keeping the permit. Returns false when no
         * token came within {@code maxWait}; the permit is still held then (nothing was sent: close it).
         *
         * @throws InterruptedException when the waiting thread is interrupted (the node is draining)
         */
        default boolean renewToken(Duration maxWait) throws InterruptedException {
            return true;
        }
    }

    /**
     * Tells {@code listener} when the limiter degrades, recovers, or waits for its store. A limiter that cannot
     * degrade (the local one) never calls it.
     */
    default void addListener(LimiterListener listener) {
    }

    /**
     * Why the limiter sends nothing new now (degraded under {@code cluster.on_store_failure = fail-closed}), or null
     * while it grants. The node's readiness says it.
     */
    default String refusesBecause() {
        return null;
    }

    /** Whether the node stops fetching while the limiter is degraded ({@code fail-closed}). */
    default boolean stopsWhileDegraded() {
        return false;
    }

    /** Fleet permits this node holds now, or -1 for a limiter that is not a fleet's. */
    default int permitsHeld() {
        return -1;
    }

    /** Whether it follows the fleet's live limits (a fleet's limiter), rather than the node's file. */
    default boolean followsFleetLimits() {
        return false;
    }

    /** Registers the limiter's own meters; none by default. */
    default void bindTo(MeterRegistry meters) {
    }

    /** Tells the limiter the Hub asked everyone to wait (429 Retry-After). */
    default void pauseFor(Duration retryAfter) {
    }

    @Override
    default void close() {
    }
}
