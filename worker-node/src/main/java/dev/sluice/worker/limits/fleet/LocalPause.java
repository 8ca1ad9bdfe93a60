package dev.sluice.worker.limits.fleet;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * This node's copy of the fleet's 429 pause: holders between their token and their request hear of a pause at once,
 * without asking the store, whether this node caused it or another node announced it.
 */
final class LocalPause {
    /** The longest pause a message from another node can ask for: hub.max_retry_after_secs at most. */
    private static final long MAX_HEARD_PAUSE_MS = TimeUnit.DAYS.toMillis(1);

    private final LongSupplier nanoTime;
    private volatile long until;

    LocalPause(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
        this.until = nanoTime.getAsLong();
    }

    /** Holds requests back for {@code pauseMs} from now, unless a longer pause already runs. */
    void pauseFor(long pauseMs) {
        long end = nanoTime.getAsLong() + TimeUnit.MILLISECONDS.toNanos(pauseMs);
        if (end - until > 0) {
            until = end;
        }
    }

    /** How much longer requests are held back; zero when no pause runs. */
    Duration left() {
        return Duration.ofNanos(Math.max(0, until - nanoTime.getAsLong()));
    }

    /** A pause another node announced, in ms; an IllegalArgumentException drops the message as malformed. */
    static long heard(String payload) {
        long pauseMs = Long.parseLong(payload);
        if (pauseMs < 1 || pauseMs > MAX_HEARD_PAUSE_MS) {
            throw new IllegalArgumentException("a pause must be between 1 and " + MAX_HEARD_PAUSE_MS + " ms, but was "
                    + pauseMs);
        }
        return pauseMs;
    }

    /** Sleeps out {@code pauseNanos}, or until {@code deadline} (nanoTime) if that comes first. */
    static void sleepOut(long pauseNanos, long deadline) throws InterruptedException {
        TimeUnit.NANOSECONDS.sleep(Math.min(pauseNanos, Math.max(0, deadline - System.nanoTime())));
    }
}
