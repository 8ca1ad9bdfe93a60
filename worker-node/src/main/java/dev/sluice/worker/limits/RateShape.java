package dev.sluice.worker.limits;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;

import java.time.Duration;

/**
 * The shape of the fleet's token bucket for a Hub limit of {@code R} requests in any sliding second.
 *
 * <p>A greedy bucket of capacity {@code C} refilled at {@code r} tokens per second hands out at most
 * {@code C + r * L} tokens in any interval of length {@code L}. The Hub counts arrivals, which come a little after
 * their grants: a request that leaves up to {@code D} late is counted in a window that covers grants of
 * {@code 1 + D} seconds, so the Hub sees at most {@code floor(C + r * (1 + D))} requests in a second. Keeping that
 * at most {@code R} needs {@code C + r <= R} (a bucket of capacity {@code R} refilled at {@code R}/s lets through
 * up to {@code 2R}) and some room for lateness:
 *
 * <pre>
 *   T = max(1, floor(R / 20))      tokens of a second not handed out: at most 5% of the limit
 *   C = max(1, floor(R / 200))     burst after an idle spell (also the initial tokens)
 *   m = T - C                      tokens kept back for lateness
 *   r = R - T  per second          (R = 1: 20 tokens per 21 s)
 * </pre>
 *
 * <p>Lateness tolerated: {@code (m + 1) / r} seconds, at least 26 ms at every R, 43 ms from R = 100 up and
 * 47 ms from R = 200 up (111 ms at R = 10, 52 ms at R = 100, 48 ms at R = 2000). A small burst costs nothing in steady use, where
 * holders queue for reserved tokens; what the bucket keeps back goes to lateness. Steady utilization
 * {@code r / R}: 90% at R = 10, 95% and above from R = 20 up, but low for tiny limits ({@code (R - 1) / R}: 50% at
 * R = 2), the price of a one-token burst in a one-second window.
 *
 * @param capacity      C, also the initial tokens
 * @param refillTokens  tokens added per refill period
 * @param refillPeriod  the refill period (tokens flow in continuously, greedily)
 */
public record RateShape(long capacity, long refillTokens, Duration refillPeriod) {

    public static RateShape of(int maxRequestsPerSecond) {
        if (maxRequestsPerSecond < 1) {
            throw new IllegalArgumentException("hub.max_requests_per_second must be at least 1, but was " + maxRequestsPerSecond);
        }
        if (maxRequestsPerSecond == 1) {
            return new RateShape(1, 20, Duration.ofSeconds(21));
        }
        long keptBack = Math.max(1, maxRequestsPerSecond / 20);
        long capacity = Math.max(1, maxRequestsPerSecond / 200);
        return new RateShape(capacity, maxRequestsPerSecond - keptBack, Duration.ofSeconds(1));
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

    BucketConfiguration toBucketConfiguration() {
        return BucketConfiguration.builder()
                .addLimit(Bandwidth.builder().capacity(capacity).refillGreedy(refillTokens, refillPeriod)
                        .initialTokens(capacity).build())
                .build();
    }
}
