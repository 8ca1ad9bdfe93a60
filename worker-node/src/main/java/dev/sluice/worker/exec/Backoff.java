package dev.sluice.worker.exec;

import dev.sluice.common.config.RetryConfig;
import dev.sluice.common.error.ErrorKind;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with jitter. The cap for attempt {@code n} (1-based) is
 * {@code min(max_delay, base_delay * 2^(n-1))}; full jitter draws uniformly in {@code [0, cap]}, equal jitter in
 * {@code [cap/2, cap]}, none takes the cap. The result is never below the error kind's suggested delay nor the
 * upstream's Retry-After.
 */
public final class Backoff {
    private final RetryConfig config;
    private final RandomGenerator random;

    public Backoff(RetryConfig config, RandomGenerator random) {
        this.config = config;
        this.random = random;
    }

    /** The cap for attempt {@code attempt} before jitter. */
    public long capMs(int attempt) {
        int shift = Math.min(Math.max(attempt, 1) - 1, 40);
        long cap = (long) config.baseDelayMs() << shift;
        return cap <= 0 || cap > config.maxDelayMs() ? config.maxDelayMs() : cap;
    }

    public long delayMs(int attempt, ErrorKind kind, Duration retryAfter) {
        long cap = capMs(attempt);
        long delay = switch (config.jitter()) {
            case NONE -> cap;
            case EQUAL -> cap / 2 + random.nextLong(cap / 2 + 1);
            case FULL -> random.nextLong(cap + 1);
        };
        delay = Math.max(delay, Math.min(kind.suggestedRetryDelay().toMillis(), config.maxDelayMs()));
        if (retryAfter != null) {
            delay = Math.max(delay, retryAfter.toMillis());
        }
        return delay;
    }
}
