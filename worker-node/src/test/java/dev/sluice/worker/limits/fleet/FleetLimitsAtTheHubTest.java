package dev.sluice.worker.limits.fleet;

import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.Closer;
import dev.sluice.hubsim.HubStats;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.hub.HubClient;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Three members, each with its own Hub client behind its fleet limiter, calling the Hub simulator over HTTP: what
 * the Hub observes is the judge.
 */
class FleetLimitsAtTheHubTest {
    private static final Logger log = LoggerFactory.getLogger(FleetLimitsAtTheHubTest.class);

    private static final AtomicLong SEQUENCE = new AtomicLong();

    @AutoClose
    final Closer closer = new Closer();

    private <T extends AutoCloseable> T closed(T resource) {
        return closer.add(resource);
    }

    private final List<FleetHubLimiter> limiters = new ArrayList<>();

    private List<HubClient> clients(TestFleet fleet, HubSimulator hub, int maxInFlight, int maxPerSecond) {
        SluiceConfig config = TestConfigs.config("redis://127.0.0.1:1", "hub.base_url", hub.baseUrl(),
                "hub.max_concurrent_connections", Integer.toString(maxInFlight),
                "hub.max_requests_per_second", Integer.toString(maxPerSecond));
        List<HubClient> clients = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            FleetHubLimiter limiter = fleet.limiter(i, TestFleet.settings(maxInFlight, maxPerSecond,
                    Duration.ofMillis(config.hub().permitLeaseMs()), StoreFailurePolicy.FAIL_CLOSED));
            limiters.add(limiter);
            clients.add(closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC())));
        }
        return clients;
    }

    /** What a load run did. */
    private record Run(int sentInRun, int refusedByLimiter, int otherFailures) {
    }

    /** Eight callers per node for {@code run}; counts the requests that left during it. */
    private static Run drive(List<HubClient> clients, Duration run) throws Exception {
        long runNanos = run.toNanos();
        AtomicInteger refusedByLimiter = new AtomicInteger();
        AtomicInteger otherFailures = new AtomicInteger();
        AtomicInteger sentInRun = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        long[] began = new long[1];
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (HubClient client : clients) {
                for (int t = 0; t < 8; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        while (System.nanoTime() - began[0] < runNanos) {
                            try {
                                client.fetch("key-" + SEQUENCE.incrementAndGet(), () -> {
                                    if (System.nanoTime() - began[0] < runNanos) {
                                        sentInRun.incrementAndGet();
                                    }
                                });
                            } catch (SluiceException e) {
                                if (e.kind() == ErrorKind.BACKPRESSURE) {
                                    refusedByLimiter.incrementAndGet();
                                } else {
                                    otherFailures.incrementAndGet();
                                    log.warn("unexpected Hub failure: {}", e.getMessage());
                                }
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
        return new Run(sentInRun.get(), refusedByLimiter.get(), otherFailures.get());
    }

    @Test
    void threeNodesAtTenPerSecondAndFiveInFlightNeverOverrunTheHubAndUseMostOfIt() throws Exception {
        TestFleet fleet = closed(TestFleet.start(3));
        HubSimulator hub = closed(HubSimulator.builder().latencyMs(150).jitterMs(250)
                .maxRequestsPerSecond(10).maxInFlight(5).build().start());
        List<HubClient> clients = clients(fleet, hub, 5, 10);
        // As a node does before its first job; the Hub is judged from the first request on. The first seconds at
        // full load (the bucket and permit table made, pooled connections) count for the maxima, not the share.
        clients.forEach(c -> c.warmUp(100, 4));
        drive(clients, Duration.ofSeconds(3));

        Duration run = Duration.ofSeconds(15);
        Run result = drive(clients, run);
        // Requests sent during the run, over the run: those still waiting for a permit at its end go out later.
        double utilization = result.sentInRun() / (10.0 * run.toSeconds());
        HubStats stats = hub.stats();
        log.info("Hub saw {} requests, {} sent in the {} s run ({} % of 10/s), at most {} in a sliding second, "
                        + "at most {} in flight, violations {}; per node {}; limiter refusals {}, late tokens {}",
                stats.totalRequests(), result.sentInRun(), run.toSeconds(), String.format("%.1f", utilization * 100),
                stats.maxWindowRequests(), stats.maxInFlight(), stats.violations(),
                clients.stream().map(c -> c.counts().requests()).toList(), result.refusedByLimiter(),
                limiters.stream().map(FleetHubLimiter::lateTokens).toList());
        assertThat(stats.violations().total()).as("violations at the Hub").isZero();
        assertThat(stats.count(429)).isZero();
        assertThat(stats.maxWindowRequests()).isLessThanOrEqualTo(10);
        assertThat(stats.maxInFlight()).isLessThanOrEqualTo(5);
        assertThat(result.otherFailures()).isZero();
        assertThat(utilization).as("share of the allowed rate used").isGreaterThanOrEqualTo(0.85);
        assertThat(clients).allSatisfy(c -> assertThat(c.counts().requests()).as("every node got its turn").isGreaterThan(20));
    }

    @Test
    void rateLimitedAnswerAtOneNodePausesEveryOtherNode() throws Exception {
        TestFleet fleet = closed(TestFleet.start(3));
        HubSimulator hub = closed(HubSimulator.builder().maxRequestsPerSecond(1).retryAfterSecs(2).build().start());
        List<HubClient> clients = clients(fleet, hub, 5, 100);
        HubClient first = clients.getFirst();

        first.fetch("k1", () -> { });
        SluiceException limited = catchThrowableOfType(SluiceException.class, () -> first.fetch("k2", () -> { }));
        long pausedAt = System.nanoTime();
        assertThat(limited.kind()).isEqualTo(ErrorKind.HUB_RATE_LIMITED);
        assertThat(limited.retryAfter()).hasValue(Duration.ofSeconds(2));

        FleetHubLimiter other = fleet.limiter(2, TestFleet.settings(5, 100, Duration.ofSeconds(6),
                StoreFailurePolicy.FAIL_CLOSED));
        assertThat(other.acquire(Duration.ofMillis(500))).as("a permit on another node during the pause").isNull();
        HubLimiter.Permit afterPause = other.acquire(Duration.ofSeconds(5));
        long waited = System.nanoTime() - pausedAt;
        assertThat(afterPause).isNotNull();
        afterPause.close();
        assertThat(Duration.ofNanos(waited)).as("the other node's first permit came after the pause")
                .isGreaterThanOrEqualTo(Duration.ofMillis(1_900));
        assertThat(hub.stats().totalRequests()).as("nobody called the Hub during the pause").isEqualTo(2);
    }
}
