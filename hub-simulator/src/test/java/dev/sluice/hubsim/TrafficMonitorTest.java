package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TrafficMonitorTest {
    private final FakeNanoTime time = new FakeNanoTime();

    private TrafficMonitor monitor(int maxRequestsPerSecond, int maxInFlight, boolean enforced) {
        return new TrafficMonitor(new HubStats.Limits(maxRequestsPerSecond, maxInFlight, enforced, 1), time);
    }

    private static void answer(TrafficMonitor monitor, TrafficMonitor.Admission admission) {
        monitor.complete(admission, admission.accepted() ? 200 : 429, null);
    }

    @Test
    void periodSecondsCountFromTheStartAndFromEachReset() {
        var monitor = monitor(0, 0, true);
        time.advance(java.time.Duration.ofMillis(2_500));
        assertThat(monitor.snapshot().periodSeconds()).isEqualTo(2.5);
        monitor.reset();
        assertThat(monitor.snapshot().periodSeconds()).isZero();
        time.advance(java.time.Duration.ofMillis(1_250));
        assertThat(monitor.snapshot().periodSeconds()).isEqualTo(1.25);
    }

    @Test
    void windowHoldsArrivalsOfTheLastSecondExcludingOneExactlyASecondOld() {
        var monitor = monitor(0, 0, true);
        answer(monitor, monitor.admit());
        time.advanceNanos(TrafficMonitor.WINDOW_NANOS - 1);
        answer(monitor, monitor.admit());
        assertThat(monitor.snapshot().maxWindowRequests()).isEqualTo(2);

        time.advanceNanos(1);
        answer(monitor, monitor.admit());
        answer(monitor, monitor.admit());
        // The first arrival is now exactly 1 s old and out; the second is 1 ns younger and still in.
        assertThat(monitor.snapshot().maxWindowRequests()).isEqualTo(3);
    }

    @Test
    void maxWindowIsTheLargestBurstWhenBurstsAreMoreThanASecondApart() {
        var monitor = monitor(0, 0, true);
        for (var i = 0; i < 30; i++) {
            answer(monitor, monitor.admit());
            time.advance(Duration.ofMillis(10));
        }
        time.advance(Duration.ofMillis(1_100));
        for (var i = 0; i < 10; i++) {
            answer(monitor, monitor.admit());
        }
        assertThat(monitor.snapshot().maxWindowRequests()).isEqualTo(30);
        assertThat(monitor.snapshot().totalRequests()).isEqualTo(40);
    }

    @Test
    void refusedArrivalsStillCountInTheWindowSoAHammeringClientStaysRefused() {
        var monitor = monitor(2, 0, true);
        assertThat(monitor.admit().accepted()).isTrue();
        assertThat(monitor.admit().accepted()).isTrue();
        assertThat(monitor.admit().accepted()).isFalse();
        time.advance(Duration.ofMillis(500));
        assertThat(monitor.admit().accepted()).as("3 arrivals in the window already").isFalse();
        time.advance(Duration.ofMillis(500));
        // The three arrivals at 0 ms left the window; the refused one at 500 ms is still in it.
        assertThat(monitor.admit().accepted()).isTrue();
        assertThat(monitor.admit().accepted()).isFalse();

        var stats = monitor.snapshot();
        assertThat(stats.violations()).isEqualTo(new HubStats.Violations(3, 3, 0));
        assertThat(stats.maxWindowRequests()).isEqualTo(4);
    }

    @Test
    void inFlightLimitCountsAcceptedRequestsButObservedMaximumCountsEveryArrival() {
        var monitor = monitor(0, 1, true);
        var first = monitor.admit();
        var refused = monitor.admit();
        assertThat(first.accepted()).isTrue();
        assertThat(refused.accepted()).isFalse();
        answer(monitor, refused);
        var again = monitor.admit();
        assertThat(again.accepted()).as("the accepted request is still in flight").isFalse();
        answer(monitor, again);

        answer(monitor, first);
        var next = monitor.admit();
        assertThat(next.accepted()).as("refused requests never held a place").isTrue();
        answer(monitor, next);

        var stats = monitor.snapshot();
        assertThat(stats.maxInFlight()).isEqualTo(2);
        assertThat(stats.inFlight()).isZero();
        assertThat(stats.violations()).isEqualTo(new HubStats.Violations(2, 0, 2));
        assertThat(stats.byStatus()).containsExactly(Map.entry(200, 2L), Map.entry(429, 2L));
    }

    @Test
    void limitsNotEnforcedAreJudgedButEveryRequestIsAccepted() {
        var monitor = monitor(2, 1, false);
        var admissions = new ArrayList<TrafficMonitor.Admission>();
        for (var i = 0; i < 4; i++) {
            admissions.add(monitor.admit());
        }
        assertThat(admissions).allMatch(TrafficMonitor.Admission::accepted);
        admissions.forEach(admission -> answer(monitor, admission));

        var stats = monitor.snapshot();
        assertThat(stats.violations()).isEqualTo(new HubStats.Violations(3, 2, 3));
        assertThat(stats.maxInFlight()).isEqualTo(4);
        assertThat(stats.maxWindowRequests()).isEqualTo(4);
        assertThat(stats.count(200)).isEqualTo(4);
    }

    @Test
    void resetStartsANewObservationPeriodWithoutLettingABurstThrough() {
        var monitor = monitor(2, 0, true);
        var early = monitor.admit();
        answer(monitor, monitor.admit());
        monitor.reset();

        time.advance(Duration.ofMillis(100));
        var late = monitor.admit();
        assertThat(late.accepted()).as("arrivals before the reset still fill the window").isFalse();
        answer(monitor, late);
        answer(monitor, early);

        var stats = monitor.snapshot();
        assertThat(stats.totalRequests()).as("only requests that arrived after the reset").isEqualTo(1);
        assertThat(stats.byStatus()).containsOnlyKeys(429);
        assertThat(stats.maxWindowRequests()).isEqualTo(1);
        assertThat(stats.maxInFlight()).isEqualTo(1);
        assertThat(stats.inFlight()).isZero();
        assertThat(stats.violations()).isEqualTo(new HubStats.Violations(1, 1, 0));

        time.advance(Duration.ofSeconds(1));
        answer(monitor, monitor.admit());
        assertThat(monitor.snapshot().maxWindowRequests()).isEqualTo(1);
    }

    @Test
    void distinctKeysCountsKeysAnsweredWith200() {
        var monitor = monitor(0, 0, true);
        monitor.complete(monitor.admit(), 200, "a");
        monitor.complete(monitor.admit(), 200, "a");
        monitor.complete(monitor.admit(), 200, "b");
        monitor.complete(monitor.admit(), 500, null);
        assertThat(monitor.snapshot().distinctKeys()).isEqualTo(2);
    }

    @Test
    void concurrentArrivalsNeverAcceptMoreThanTheInFlightLimit() throws Exception {
        var monitor = new TrafficMonitor(new HubStats.Limits(0, 7, true, 1), System::nanoTime);
        var inside = new AtomicInteger();
        var maxInside = new AtomicInteger();
        var start = new CountDownLatch(1);
        try (var executor = Executors.newFixedThreadPool(8)) {
            var futures = new ArrayList<Future<?>>();
            for (var thread = 0; thread < 32; thread++) {
                futures.add(executor.submit(() -> {
                    start.await();
                    for (var i = 0; i < 2_000; i++) {
                        var admission = monitor.admit();
                        if (admission.accepted()) {
                            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            Thread.onSpinWait();
                            inside.decrementAndGet();
                        }
                        answer(monitor, admission);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (var future : futures) {
                future.get();
            }
        }
        var stats = monitor.snapshot();
        assertThat(maxInside.get()).isLessThanOrEqualTo(7);
        assertThat(stats.totalRequests()).isEqualTo(64_000);
        assertThat(stats.count(429)).isEqualTo(stats.violations().total());
        assertThat(stats.inFlight()).isZero();
    }
}
