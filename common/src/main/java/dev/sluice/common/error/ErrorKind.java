package dev.sluice.common.error;

import java.time.Duration;
import java.util.Locale;

/**
 * The one taxonomy of failures used by retry, dead-letter, breaker, metrics and alerts alike. Every failure is
 * classified once, where it happens (see {@link ErrorClassifier}).
 *
 * <p>Recoverable kinds are retried with backoff up to the configured attempts; permanent kinds go straight to the
 * dead-letter queue. Only kinds that say the Hub itself is failing count against the Hub's circuit breaker: a 429
 * means the Hub is healthy and we were too fast, a rejected request means the job is wrong.
 */
public enum ErrorKind {
    /** No pooled Redis connection became free within the borrow timeout. */
    POOL_EXHAUSTED(true, false, false, Duration.ofMillis(250)),
    /** Connecting to Redis, or a Redis socket read, timed out. */
    CONNECTION_TIMEOUT(true, false, true, Duration.ofSeconds(1)),
    /** Redis refused, dropped the connection, or answered that it cannot serve now (LOADING, BUSY, OOM ...). */
    REDIS_UNAVAILABLE(true, false, false, Duration.ofSeconds(1)),
    /** The Hub answered 429; wait for its Retry-After. */
    HUB_RATE_LIMITED(true, false, false, Duration.ofSeconds(1)),
    /** The Hub answered 5xx or refused the connection. */
    HUB_UNAVAILABLE(true, true, false, Duration.ofSeconds(2)),
    /** Connecting to the Hub or waiting for its answer timed out. */
    HUB_TIMEOUT(true, true, true, Duration.ofSeconds(2)),
    /** The Hub answered another 4xx, or an answer larger than hub.max_response_bytes: retrying will not help. */
    HUB_REJECTED(false, false, false, Duration.ZERO),
    /** The job cannot be parsed or is invalid. */
    BAD_JOB(false, false, false, Duration.ZERO),
    /** Writing the result failed. */
    SINK_FAILURE(true, false, false, Duration.ofMillis(500)),
    /** The node is shedding load (queue full, shutting down). */
    BACKPRESSURE(true, false, false, Duration.ofMillis(250)),
    /** Anything unexpected; retried a bounded number of times, then dead-lettered. */
    INTERNAL(true, false, false, Duration.ofSeconds(1));

    private final boolean recoverable;
    private final boolean countsAgainstBreaker;
    private final boolean timeout;
    private final Duration suggestedRetryDelay;

    ErrorKind(boolean recoverable, boolean countsAgainstBreaker, boolean timeout, Duration suggestedRetryDelay) {
        this.recoverable = recoverable;
        this.countsAgainstBreaker = countsAgainstBreaker;
        this.timeout = timeout;
        this.suggestedRetryDelay = suggestedRetryDelay;
    }

    /** Worth retrying later; otherwise the job is dead-lettered at once. */
    public boolean recoverable() {
        return recoverable;
    }

    /** Counts as a failure of the downstream for its circuit breaker. */
    public boolean countsAgainstBreaker() {
        return countsAgainstBreaker;
    }

    /** Counts towards the connection-timeout rate alert. */
    public boolean timeout() {
        return timeout;
    }

    /** The smallest sensible delay before retrying; backoff may wait longer, never shorter. */
    public Duration suggestedRetryDelay() {
        return suggestedRetryDelay;
    }

    /** The name used in metrics tags, events and dead letters: {@code hub-timeout}. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Parses {@link #tag()} back. */
    public static ErrorKind fromTag(String tag) {
        return valueOf(tag.toUpperCase(Locale.ROOT).replace('-', '_'));
    }

    /** The kind of a non-2xx Hub answer. */
    public static ErrorKind ofHubStatus(int status) {
        if (status == 429) {
            return HUB_RATE_LIMITED;
        }
        if (status == 408 || status == 504) {
            return HUB_TIMEOUT;
        }
        if (status >= 500) {
            return HUB_UNAVAILABLE;
        }
        return HUB_REJECTED;
    }
}
