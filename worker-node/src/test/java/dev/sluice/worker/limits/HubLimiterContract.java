package dev.sluice.worker.limits;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every {@link HubLimiter} promises, whether one node keeps the limits or the fleet does: never more permits
 * held than the limit at any instant, every waiter served in bounded time, at most the rate in any sliding second,
 * and a 429's pause honoured by every holder of the limits. Subclasses give several handles on one set of limits
 * (for the fleet, limiters on different members).
 */
public abstract class HubLimiterContract {
    /**
     * The sliding window the tests count grants in: a second less the scheduling slack between a grant and the
     * timestamp its thread takes after acquire returns (the Hub simulator tests count real arrivals instead).
     */
    public static final long WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(970);

    /** {@code handles} limiters sharing one limit of {@code maxInFlight} and {@code maxPerSecond}. */
    protected abstract List<HubLimiter> limiters(int handles, int maxInFlight, int maxPerSecond);

    @Test
    void neverMoreHoldersThanTheLimitAndEveryThreadGetsItsTurn() throws Exception {
        holdersStayWithinTheLimitAndAllAreServed(5, 8, 10, 50);
    }

    /** At high limits many threads per node wait at once: all are served, none refused, the limit holds. */
    @Test
    void manyWaitersAtAHighLimitAreAllServedWithinIt() throws Exception {
        holdersStayWithinTheLimitAndAllAreServed(60, 80, 8, 20);
    }

    private void holdersStayWithinTheLimitAndAllAreServed(int limit, int threadsPerHandle, int iterations, int holdMs)
            throws Exception {
        List<HubLimiter> limiters = limiters(3, limit, 100_000);
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger mostHolders = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicLong longestWaitNanos = new AtomicLong();
        int[] grantsPerHandle = new int[limiters.size()];
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int h = 0; h < limiters.size(); h++) {
                HubLimiter limiter = limiters.get(h);
                int handle = h;
                for (int t = 0; t < threadsPerHandle; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < iterations; i++) {
                            long t0 = System.nanoTime();
                            HubLimiter.Permit permit = limiter.acquire(Duration.ofSeconds(30));
                            longestWaitNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
                            if (permit == null) {
                                refused.incrementAndGet();
                                continue;
                            }
                            int now = holders.incrementAndGet();
                            mostHolders.accumulateAndGet(now, Math::max);
                            synchronized (grantsPerHandle) {
                                grantsPerHandle[handle]++;
                            }
                            TimeUnit.MILLISECONDS.sleep(holdMs);
                            holders.decrementAndGet();
                            permit.close();
                        }
                        return null;
                    }));
                }
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
        assertThat(mostHolders.get()).as("most permits held at one instant").isLessThanOrEqualTo(limit);
        // Permits really overlapped, so the bound above was under test (on a loaded machine the last permit of the
        // limit is not always reached within a short hold, so reaching the limit exactly is not required).
        assertThat(mostHolders.get()).as("permits held at once: the limit was under contention").isGreaterThan(1);
        assertThat(refused.get()).as("acquires that timed out (starved)").isZero();
        for (int grants : grantsPerHandle) {
            assertThat(grants).isEqualTo(threadsPerHandle * iterations);
        }
        assertThat(Duration.ofNanos(longestWaitNanos.get())).as("longest wait for a permit").isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void atMostTheRateInAnySlidingSecondAndMostOfItUsed() throws Exception {
        rateHoldsInAnySlidingSecondAndMostOfItIsUsed(10, 6);
    }

    @Test
    void atAHighRateManyWaitersStillStayWithinItAndUseMostOfIt() throws Exception {
        rateHoldsInAnySlidingSecondAndMostOfItIsUsed(400, 40);
    }

    private void rateHoldsInAnySlidingSecondAndMostOfItIsUsed(int rate, int threadsPerHandle) throws Exception {
        List<HubLimiter> limiters = limiters(3, 50, rate);
        for (HubLimiter limiter : limiters) { // warm up: the first grant creates the shared state
            limiter.acquire(Duration.ofSeconds(5)).close();
        }
        TimeUnit.MILLISECONDS.sleep(1_100);
        ConcurrentLinkedQueue<Long> grants = new ConcurrentLinkedQueue<>();
        long runNanos = TimeUnit.SECONDS.toNanos(6);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        long[] began = new long[1];
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (HubLimiter limiter : limiters) {
                for (int t = 0; t < threadsPerHandle; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        while (System.nanoTime() - began[0] < runNanos) {
                            HubLimiter.Permit permit = limiter.acquire(Duration.ofSeconds(5)); // as the Hub client waits
                            if (permit != null) {
                                grants.add(System.nanoTime());
                                permit.close();
                            }
                        }
                        return null;
                    }));
                }
            }
            began[0] = System.nanoTime();
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
        List<Long> times = new ArrayList<>(grants);
        Collections.sort(times);
        int most = 0;
        for (int i = 0, j = 0; i < times.size(); i++) {
            while (times.get(i) - times.get(j) >= WINDOW_NANOS) {
                j++;
            }
            most = Math.max(most, i - j + 1);
        }
        assertThat(most).as("most grants in a sliding second").isLessThanOrEqualTo(rate);
        double seconds = runNanos / 1e9;
        // The fleet's bucket gives 95% at 10/s and at 400/s (RateShape); a loaded machine loses some to lateness and
        // slow store calls. Here "most" only guards against a collapse: the utilization targets are measured by the
        // fleet benchmark (docs/benchmarks.md), not by this test.
        long inRun = times.stream().filter(t -> t - began[0] < runNanos).count();
        assertThat(inRun).as("grants during the %.0f s run at %d/s", seconds, rate)
                .isGreaterThanOrEqualTo((long) (0.7 * rate * seconds));
    }

    @Test
    void pauseFromOneHolderStopsEveryHolderUntilItEnds() throws Exception {
        List<HubLimiter> limiters = limiters(3, 5, 1_000);
        HubLimiter first = limiters.getFirst();
        HubLimiter last = limiters.getLast();
        first.acquire(Duration.ofSeconds(5)).close();
        long pausedAt = System.nanoTime();
        first.pauseFor(Duration.ofMillis(1_500));
        assertThat(last.acquire(Duration.ofMillis(500))).as("a grant during the pause").isNull();
        HubLimiter.Permit after = last.acquire(Duration.ofSeconds(10));
        long waited = System.nanoTime() - pausedAt;
        assertThat(after).isNotNull();
        after.close();
        assertThat(Duration.ofNanos(waited)).as("first grant after the pause").isGreaterThanOrEqualTo(Duration.ofMillis(1_450));
    }
}
