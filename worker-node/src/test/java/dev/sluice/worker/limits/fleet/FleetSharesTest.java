package dev.sluice.worker.limits.fleet;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.Closer;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.hub.HubClient;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Shares follow demand: three members, each with its own Hub client behind its fleet limiter, calling the Hub
 * simulator over HTTP at 100 requests a second and 20 in flight (33 a second per node: the hot path, where nodes keep
 * permits between requests and reserve rate tokens ahead). An idle node hands its permits back within a second; one
 * busy node beside two idle ones gets at least 90% of the limit; with every node busy each gets within 20% of an
 * equal share over 60 s. The Hub judges every run: no sliding second over the rate, never more in flight.
 */
class FleetSharesTest {
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final int RPS = 100;
    private static final int IN_FLIGHT = 20;

    @AutoClose
    final Closer closer = new Closer();
    private final List<FleetHubLimiter> limiters = new ArrayList<>();

    private <T extends AutoCloseable> T closed(T resource) {
        return closer.add(resource);
    }

    private List<HubClient> clients(TestFleet fleet, HubSimulator hub) {
        SluiceConfig config = TestConfigs.config("redis://127.0.0.1:1", "hub.base_url", hub.baseUrl(),
                "hub.max_concurrent_connections", Integer.toString(IN_FLIGHT),
                "hub.max_requests_per_second", Integer.toString(RPS));
        List<HubClient> clients = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            FleetHubLimiter limiter = fleet.limiter(i, TestFleet.settings(IN_FLIGHT, RPS,
                    Duration.ofMillis(config.hub().permitLeaseMs()), StoreFailurePolicy.FAIL_CLOSED));
            limiters.add(limiter);
            clients.add(closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC())));
        }
        clients.forEach(c -> c.warmUp(100, 4));
        return clients;
    }

    private HubSimulator hub() {
        return closed(HubSimulator.builder().latencyMs(20).jitterMs(10).maxRequestsPerSecond(RPS)
                .maxInFlight(IN_FLIGHT).build().start());
    }

    /** {@code callers[i]} callers on node i for {@code run}; the requests each node sent during it. */
    private static long[] drive(List<HubClient> clients, int[] callers, Duration run) throws Exception {
        long runNanos = run.toNanos();
        AtomicInteger[] sent = new AtomicInteger[clients.size()];
        AtomicInteger otherFailures = new AtomicInteger();
        List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        long[] began = new long[1];
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int n = 0; n < clients.size(); n++) {
                HubClient client = clients.get(n);
                AtomicInteger mine = sent[n] = new AtomicInteger();
                for (int t = 0; t < callers[n]; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        while (System.nanoTime() - began[0] < runNanos) {
                            try {
                                client.fetch("key-" + SEQUENCE.incrementAndGet(), () -> {
                                    if (System.nanoTime() - began[0] < runNanos) {
                                        mine.incrementAndGet();
                                    }
                                });
                            } catch (SluiceException e) {
                                if (e.kind() != ErrorKind.BACKPRESSURE) {
                                    otherFailures.incrementAndGet();
                                    failures.add(e.kind() + ": " + e.getMessage());
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
                f.get(run.toSeconds() + 60, TimeUnit.SECONDS);
            }
        }
        assertThat(otherFailures.get()).as("Hub calls that failed other than by the limiter's wait: %s", failures)
                .isZero();
        return Arrays.stream(sent).mapToLong(AtomicInteger::get).toArray();
    }

    private static void assertWithinLimits(HubStats stats) {
        assertThat(stats.violations().total()).as("violations at the Hub (%s)", stats.violations()).isZero();
        assertThat(stats.maxWindowRequests()).as("most requests in a sliding second").isLessThanOrEqualTo(RPS);
        assertThat(stats.maxInFlight()).as("most requests in flight").isLessThanOrEqualTo(IN_FLIGHT);
        assertThat(stats.count(429)).isZero();
    }

    private long storeCalls() {
        return limiters.stream().mapToLong(FleetHubLimiter::storeCalls).sum();
    }

    @Test
    void anIdleNodeHandsItsPermitsBackWithinASecondAndOneBusyNodeGetsNinetyPercentOfTheLimit() throws Exception {
        TestFleet fleet = closed(TestFleet.start(3));
        HubSimulator hub = hub();
        List<HubClient> clients = clients(fleet, hub);
        drive(clients, new int[] {8, 8, 8}, Duration.ofSeconds(3));
        int heldAtStop = limiters.get(1).permitsHeld() + limiters.get(2).permitsHeld();
        long stoppedAt = System.nanoTime();
        // Nodes 1 and 2 go idle (their callers ended with the run): their kept permits go back within a second, as
        // the fleet's table has it.
        await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(20))
                .until(() -> limiters.get(1).permitsHeld() == 0 && limiters.get(2).permitsHeld() == 0
                        && limiters.get(0).inspect().leases().stream().map(PermitTable.Lease::holder)
                                .noneMatch(h -> h.equals("node-1") || h.equals("node-2")));
        double handedBackAfter = (System.nanoTime() - stoppedAt) / 1e9;

        long callsBefore = storeCalls();
        Duration run = Duration.ofSeconds(10);
        long[] sent = drive(clients, new int[] {16, 0, 0}, run);
        long calls = storeCalls() - callsBefore;
        double use = sent[0] / (double) (RPS * run.toSeconds());
        HubStats stats = hub.stats();
        System.out.printf("FleetSharesTest idle/busy: %d permits held by the two idle nodes at their stop, all back "
                        + "%.2f s later; one busy node beside two idle ones sent %d in %d s (%.1f%% of %d/s), %.1f store "
                        + "calls per 100 Hub calls; Hub: at most %d in a sliding second, at most %d in flight, "
                        + "violations %s%n", heldAtStop, handedBackAfter, sent[0], run.toSeconds(), 100 * use, RPS,
                100.0 * calls / Math.max(1, sent[0]), stats.maxWindowRequests(), stats.maxInFlight(), stats.violations());
        assertThat(use).as("share of the limit one busy node used").isGreaterThanOrEqualTo(0.90);
        assertWithinLimits(stats);
    }

    @Test
    void everyNodeBusyGetsWithinTwentyPercentOfAnEqualShareOverSixtySeconds() throws Exception {
        TestFleet fleet = closed(TestFleet.start(3));
        HubSimulator hub = hub();
        List<HubClient> clients = clients(fleet, hub);
        // Unequal demand on purpose (more callers on node 0): shares follow the limit, not the number of callers.
        int[] callers = {16, 8, 8};
        drive(clients, callers, Duration.ofSeconds(3));
        long callsBefore = storeCalls();
        Duration run = Duration.ofSeconds(Long.getLong("sluice.shares.secs", 60));
        long[] sent = drive(clients, callers, run);
        long calls = storeCalls() - callsBefore;
        long total = Arrays.stream(sent).sum();
        double equal = total / 3.0;
        HubStats stats = hub.stats();
        System.out.printf("FleetSharesTest all busy: per node %s in %d s (%.1f%% of %d/s in all; an equal share %.0f), "
                        + "%.1f store calls per 100 Hub calls; expired tokens %s; Hub: at most %d in a sliding second, "
                        + "at most %d in flight, violations %s%n", Arrays.toString(sent), run.toSeconds(),
                100.0 * total / (RPS * run.toSeconds()), RPS, equal, 100.0 * calls / Math.max(1, total),
                limiters.stream().map(FleetHubLimiter::expiredTokens).toList(), stats.maxWindowRequests(),
                stats.maxInFlight(), stats.violations());
        for (int n = 0; n < 3; n++) {
            assertThat(sent[n] / equal).as("node %d's share against an equal one", n).isBetween(0.8, 1.2);
        }
        assertThat(total / (double) (RPS * run.toSeconds())).as("share of the limit used").isGreaterThanOrEqualTo(0.9);
        assertWithinLimits(stats);
    }
}
