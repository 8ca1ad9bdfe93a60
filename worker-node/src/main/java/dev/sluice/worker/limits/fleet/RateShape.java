package dev.sluice.worker.limits.fleet;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;

import java.time.Duration;

/**
 * The shape of the fleet's token bucket for a Hub limit of {@code R} requests in any sliding second.
 *
 * <p>A greedy bucket of capacity {@code C} refilled at {@code r} tokens per second hands out at most
 * {@code C + r * L} tokens in any interval of length {@code L}. The Hub counts arrivals, which come a little after
 * their grants: a request that leaves up to {@code D} late is counted in a window that covers grants of
 * {@code 1 + D} seconds, so the Hub sees at most {@code floor(C + r * (1 + D))} requests in a second, an integer.
 * Keeping that at most {@code R} needs {@code C + r * (1 + D) < R + 1} (a bucket of capacity {@code R} refilled at
 * {@code R}/s lets through up to {@code 2R}). The shape takes a small burst and the largest rate that tolerates a
 * lateness {@code D} of 47 ms, counted in tokens per 10 s:
 *
 * <pre>
 *   C = max(1, floor(R / 400))                          burst after an idle spell (also the initial tokens)
 *   r = (ceil(10 * (R + 1 - C) / 1.047) - 1) / 10  per second     (R = 1: 20 tokens per 21 s)
 * </pre>
 *
 * <p>Lateness tolerated: {@code (R + 1 - C) / r - 1} seconds, at least 47 ms at every R (53 ms at R = 10). Steady
 * utilization {@code r / R}: 95% at R = 10 and at least 95% from R = 20 up (95.5% at 100, 95.3% at 2000); at least
 * 93% for tiny limits (the one-token burst weighs more in a one-second window). The limiter spends half the
 * tolerance on the holder's side (checked after its wait, and again by the Hub client right before the request's
 * first byte) and leaves the other half for the way to the Hub's count.
 *
 * @param capacity      C, also the initial tokens
 * @param refillTokens  tokens added per refill period
 * @param refillPeriod  the refill period (tokens flow in continuously, greedily)
 */
public record RateShape(long capacity, long refillTokens, Duration refillPeriod) {
    /** The lateness {@code D} the shape is made to tolerate. */
    static final double LATENESS_SECONDS = 0.047;

    public static RateShape of(int maxRequestsPerSecond) {
        if (maxRequestsPerSecond < 1) {
            throw new IllegalArgumentException("hub.max_requests_per_second must be at least 1, but was " + maxRequestsPerSecond);
        }
        if (maxRequestsPerSecond == 1) {
            return new RateShape(1, 20, Duration.ofSeconds(21));
        }
        long capacity = Math.max(1, maxRequestsPerSecond / 400);
        // Tokens per 10 s, strictly below 10 * (R + 1 - C) / (1 + D): ceil(x) - 1 is below x whether or not x is whole.
        long per10s = (long) Math.ceil(10.0 * (maxRequestsPerSecond + 1 - capacity) / (1 + LATENESS_SECONDS)) - 1;
        return new RateShape(capacity, per10s, Duration.ofSeconds(10));
    }

    /** Steady tokens per second. */
    public double ratePerSecond() {
        return refillTokens * 1e9 / refillPeriod.toNanos();
    }

    /** Most grants in any closed interval of one second: capacity plus a second's refill. */
    public double maxPerSecond() {
        return capacity + ratePerSecond();
    }

    /**
     * How late a request may leave after its token's time without the Hub seeing more than {@code limit} in a
     * second: {@code floor(C + r * (1 + D)) <= R} holds for every {@code D} below this.
     */
    public Duration latenessTolerance(int limit) {
        double seconds = (limit + 1 - capacity - ratePerSecond()) / ratePerSecond();
        return Duration.ofNanos((long) (seconds * 1e9));
    }

    /** The Bucket4j configuration of this shape (greedy refill, initial tokens = capacity). */
    public BucketConfiguration toBucketConfiguration() {
        return BucketConfiguration.builder()
                .addLimit(Bandwidth.builder().capacity(capacity).refillGreedy(refillTokens, refillPeriod)
                        .initialTokens(capacity).build())
                .build();
    }
}
