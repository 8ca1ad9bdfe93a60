package dev.sluice.common.health;

import java.time.Duration;

/**
 * The pause between two tries of an in-process retry loop, the one rule all of them follow: it starts at
 * {@code first}, doubles after each failed try up to {@code max}, and starts again at {@code first} after a success.
 * One per loop; not shared between threads.
 */
public final class RetryDelay {
    private final Duration first;
    private final Duration max;
    private Duration next;

    /** @throws IllegalArgumentException when {@code first} is not positive or {@code max} is less than it */
    public RetryDelay(Duration first, Duration max) {
        if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
            throw new IllegalArgumentException("a retry delay needs 0 < first <= max, but was first " + first
                    + ", max " + max);
        }
        this.first = first;
        this.max = max;
        this.next = first;
    }

    /** The pause before the next try; the one after it is twice as long, up to the maximum. */
    public Duration next() {
        Duration now = next;
        next = next.compareTo(max.dividedBy(2)) > 0 ? max : next.multipliedBy(2);
        return now;
    }

    /** A try succeeded: the next pause is the first again. */
    public void reset() {
        next = first;
    }
}
