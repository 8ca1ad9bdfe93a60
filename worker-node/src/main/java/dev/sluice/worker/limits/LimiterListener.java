package dev.sluice.worker.limits;

/**
 * Hears when the fleet limiter can no longer use its store (no majority, or a store call failed) and falls back to
 * {@code cluster.on_store_failure}, and when it can again. Called once per episode, on the thread that noticed;
 * listeners must not block.
 */
public interface LimiterListener {

    /** The limiter now applies its fallback policy; {@code reason} says why. */
    void degraded(String reason);

    /** The store answers again under a majority; fleet limits apply again. */
    void recovered();

    /**
     * The limiter grants nothing for a while that ends by itself (a node's start, a join's quiet time, a new grantor
     * waiting out what the old one may have granted), or that while ended. Nothing is wrong: no alert is due.
     */
    default void waiting(boolean waiting, String reason) {
    }
}
