package dev.sluice.worker.limits.fleet;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.common.error.SluiceException;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.Served;
import dev.sluice.testkit.Closer;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.hub.HubClient;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A 429 pauses the whole fleet on the hot path too: three members at 100 requests a second and 20 in flight (they keep
 * permits and reserve tokens ahead) call a Hub that allows only 60 a second and answers the rest 429 with
 * {@code Retry-After: 1}. Every 429 must stop every node's requests for the pause: after each 429 the Hub sees no
 * arrival from 100 ms on (the time for the other nodes to hear of it, and for requests already past their last check)
 * until the pause ends, although the nodes hold permits and tokens reserved ahead meanwhile.
 */
class HotPathPauseTest {
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final long HEARD_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

    @AutoClose
    final Closer closer = new Closer();

    @Test
    void everyRetryAfterPausesEveryNodeThoughTheyKeepPermitsAndTokensAhead() throws Exception {
        TestFleet fleet = closer.add(TestFleet.start(3));
        HubSimulator hub = closer.add(HubSimulator.builder().latencyMs(20).jitterMs(5).maxRequestsPerSecond(60)
                .maxInFlight(20).retryAfterSecs(1).build().start());
        SluiceConfig config = TestConfigs.config("redis://127.0.0.1:1", "hub.base_url", hub.baseUrl(),
                "hub.max_concurrent_connections", "20", "hub.max_requests_per_second", "100");
        List<HubClient> clients = new ArrayList<>();
        List<FleetHubLimiter> limiters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            FleetHubLimiter limiter = fleet.limiter(i, TestFleet.settings(20, 100,
                    Duration.ofMillis(config.hub().permitLeaseMs()), StoreFailurePolicy.FAIL_CLOSED));
            limiters.add(limiter);
            clients.add(closer.add(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC())));
        }
        clients.forEach(c -> c.warmUp(100, 4));
        long runNanos = TimeUnit.SECONDS.toNanos(8);
        long began = System.nanoTime();
        int[] keptAtSomePoint = new int[1];
        try (ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (HubClient client : clients) {
                for (int t = 0; t < 8; t++) {
                    done.add(callers.submit(() -> {
                        while (System.nanoTime() - began < runNanos) {
                            try {
                                client.fetch("key-" + SEQUENCE.incrementAndGet(), () -> { });
                            } catch (SluiceException e) {
                                // 429s and the limiter's waits: the pause is what is judged here
                            }
                        }
                        return null;
                    }));
                }
            }
            while (System.nanoTime() - began < runNanos) {
                keptAtSomePoint[0] = Math.max(keptAtSomePoint[0],
                        limiters.stream().mapToInt(FleetHubLimiter::permitsHeld).sum());
                Thread.sleep(50);
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        List<Served> log = new ArrayList<>(hub.served());
        log.sort(Comparator.comparingLong(Served::arrivedAt));
        List<Served> refused = log.stream().filter(s -> s.status() == 429).toList();
        long answered = log.stream().filter(s -> s.status() == 200).count();
        int inPauses = 0;
        for (Served r : refused) {
            long from = r.answeredAt() + HEARD_NANOS;
            long to = r.answeredAt() + PAUSE_NANOS - HEARD_NANOS;
            for (Served s : log) {
                if (s.arrivedAt() > from && s.arrivedAt() < to) {
                    inPauses++;
                    System.out.printf("HotPathPauseTest: arrival %.3f s after a 429 (status %d)%n",
                            (s.arrivedAt() - r.answeredAt()) / 1e9, s.status());
                }
            }
        }
        System.out.printf("HotPathPauseTest: %d answered 200, %d answered 429 in %d s; at most %d permits held by the "
                + "nodes at once; %d arrivals within a pause%n", answered, refused.size(),
                TimeUnit.NANOSECONDS.toSeconds(runNanos), keptAtSomePoint[0], inPauses);
        assertThat(refused).as("the Hub refused some requests (its limit is below the fleet's)").isNotEmpty();
        assertThat(keptAtSomePoint[0]).as("the nodes kept permits: the hot path ran").isGreaterThan(0);
        assertThat(inPauses).as("arrivals from 100 ms after a 429 until its Retry-After ended").isZero();
        assertThat(answered).as("the fleet resumed after each pause").isGreaterThan(100);
    }
}
