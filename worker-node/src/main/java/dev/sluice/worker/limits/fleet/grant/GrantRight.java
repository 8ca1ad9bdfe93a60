package dev.sluice.worker.limits.fleet.grant;

/**
 * Whether this node's side of the fleet may take new capacity (rate tokens, in-flight permits) from the limiter's
 * store, and whether a request that already holds capacity may still leave. Every answer is a deadline on the
 * asking process's own monotonic clock ({@link System#nanoTime()}), passed in: nothing here is a flag another
 * thread sets, so a thread that stalls past a deadline sees it passed when it resumes.
 */
public interface GrantRight {

    /** Whether new capacity may be taken from the store at {@code nowNanos}. */
    boolean mayGrant(long nowNanos);

    /**
     * Whether a request holding capacity may leave at {@code nowNanos}; asked right before its first byte. A side
     * that lost the right to grant may still send what it holds until this says no.
     */
    boolean maySend(long nowNanos);

    /** Why {@link #mayGrant} says no at {@code nowNanos}, for logs and readiness; empty when it says yes. */
    String whyNot(long nowNanos);

    /**
     * Whether {@link #mayGrant} says no at {@code nowNanos} only for a while that ends by itself (a start, a quiet
     * time, a new grantor's wait), not because something failed: callers wait instead of degrading.
     */
    default boolean waiting(long nowNanos) {
        return false;
    }

    /** Who decides, for status pages. */
    default String describe() {
        return toString();
    }
}
