package dev.sluice.worker.limits.live;

import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.control.FleetLimits;
import dev.sluice.control.FleetRecord;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.event.EventPayload;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.Closer;
import dev.sluice.hubsim.Served;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.hub.HubClient;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.pool.OwnConnection;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Live limits, judged at the Hub: three fleet members (real Hazelcast) with their Hub clients calling the Hub simulator
 * over HTTP under full load, each following the fleet's limits record in a real Redis as a node does (read every
 * 200 ms on a connection of its own). The limits are lowered and raised, both of them, while the load runs; the Hub's
 * log of every request is then judged window by window against the change times:
 * <ul>
 *   <li>every sliding second ending at least 2 s (the promised time to be in force) plus 1 s plus the lateness
 *       tolerance after a change was accepted holds the new rate;</li>
 *   <li>no sliding second ever holds more than the higher of the two rates around it;</li>
 *   <li>from 2 s after a change, no request arrives while the new in-flight limit's worth already run, and never more
 *       than the higher of the two;</li>
 *   <li>a raise is used: the fleet then runs above the old limits.</li>
 * </ul>
 * Before the last change (in-flight lowered from 12 to 4) one node stops reading the record, as a node whose Redis
 * connection is cut: its view goes stale within a second, it then keeps no permits and reserves one token at a time,
 * and the table grants by the newest limit any node told it of, so the new limit holds all the same. (A node cut off
 * from Redis altogether also loses its grantor lease and stops sending; the process-level fault tests show that.)
 */
class LiveLimitsAtTheHubTest {
    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final long IN_FORCE_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final long TOLERANCE_NANOS = TimeUnit.MILLISECONDS.toNanos(47);
    private static final Duration PHASE = Duration.ofSeconds(7);

    /** The fleet's limits from {@code acceptedAt} (nanoTime, taken before the change was sent) on. */
    record Phase(int rps, int inFlight, long acceptedAt) {
    }

    @AutoClose
    final Closer closer = new Closer();

    private <T extends AutoCloseable> T closed(T resource) {
        return closer.add(resource);
    }

    @Test
    void loweringAndRaisingBothLimitsUnderLoadIsInForceAtTheHubWithinTwoSeconds() throws Exception {
        TestFleet fleet = closed(TestFleet.start(3));
        // The Hub enforces and judges the highest limits of the run; the phases are judged from its request log.
        HubSimulator hub = closed(HubSimulator.builder().latencyMs(40).jitterMs(10).maxRequestsPerSecond(150)
                .maxInFlight(12).build().start());
        FleetRecord record = new FleetRecord("live-limits-test");
        List<EventPayload> published = new CopyOnWriteArrayList<>();
        List<FleetHubLimiter> limiters = new ArrayList<>();
        List<LimitsFollower> followers = new ArrayList<>();
        List<HubClient> clients = new ArrayList<>();
        int[][] files = {{100, 10}, {100, 10}, {500, 50}}; // node 2's file says otherwise: it follows the fleet's
        ScheduledExecutorService reads = Executors.newScheduledThreadPool(3);
        List<java.util.concurrent.ScheduledFuture<?>> reading = new ArrayList<>();
        List<OwnConnection> own = new ArrayList<>();
        closed(reads::shutdownNow);
        for (int i = 0; i < 3; i++) {
            SluiceConfig config = TestConfigs.config(redis.url(), "hub.base_url", hub.baseUrl(),
                    "hub.max_concurrent_connections", Integer.toString(files[i][1]),
                    "hub.max_requests_per_second", Integer.toString(files[i][0]));
            FleetHubLimiter limiter = fleet.limiter(i, TestFleet.settings(files[i][1], files[i][0],
                    Duration.ofMillis(config.hub().permitLeaseMs()), StoreFailurePolicy.FAIL_CLOSED));
            limiters.add(limiter);
            RedisConnections connections = closed(new RedisConnections(config.redis(), "node-" + i));
            OwnConnection mine = closed(new OwnConnection(connections, "leases"));
            LimitsFollower follower = new LimitsFollower(record, limiter, files[i][0], files[i][1], "node-" + i,
                    published::add, pause -> { }, System::nanoTime);
            follower.step(mine); // as a node does before its first job
            follower.startAnnouncing();
            followers.add(follower);
            own.add(mine);
            reading.add(reads.scheduleWithFixedDelay(() -> follower.step(mine), 200, 200, TimeUnit.MILLISECONDS));
            clients.add(closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC())));
        }
        assertThat(followers.get(0).current().changedBy()).as("the first node's file seeded the record")
                .isEqualTo(FleetLimits.SEEDED_BY + "node-0");
        assertThat(followers.get(2).current().maxPerSecond()).isEqualTo(100);
        assertThat(followers.get(2).status()).containsEntry("followsConfigurationFile", false)
                .containsEntry("maxRequestsPerSecond", 100).containsEntry("maxInFlight", 10);
        assertThat(limiters.get(2).settings().maxPerSecond()).isEqualTo(100);
        clients.forEach(c -> c.warmUp(100, 4));

        AtomicBoolean loading = new AtomicBoolean(true);
        List<String> failures = new CopyOnWriteArrayList<>();
        List<Phase> phases = new ArrayList<>();
        try (ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (HubClient client : clients) {
                for (int t = 0; t < 8; t++) {
                    done.add(callers.submit(() -> {
                        while (loading.get()) {
                            try {
                                client.fetch("key-" + SEQUENCE.incrementAndGet(), () -> { });
                            } catch (SluiceException e) {
                                if (e.kind() != ErrorKind.BACKPRESSURE) {
                                    failures.add(e.kind() + ": " + e.getMessage());
                                }
                            }
                        }
                        return null;
                    }));
                }
            }
            phases.add(new Phase(100, 10, System.nanoTime()));
            Thread.sleep(PHASE.toMillis());
            int[][] changes = {{60, 3}, {150, 12}, {150, 4}};
            try (Jedis jedis = redis.server().newJedis()) {
                for (int[] change : changes) {
                    if (change == changes[changes.length - 1]) {
                        // Node 2 stops hearing from Redis before the last change: its view goes stale, and it must
                        // keep the new in-flight limit anyway (it keeps no permits, and the table has the new limit).
                        reading.get(2).cancel(false);
                    }
                    long before = System.nanoTime();
                    FleetRecord.Change c = record.setLimits(jedis, null, change[0], change[1], "test");
                    assertThat(c.applied()).isTrue();
                    phases.add(new Phase(change[0], change[1], before));
                    Thread.sleep(PHASE.toMillis());
                }
            }
            loading.set(false);
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertThat(failures).as("Hub calls that failed other than by the limiter's wait").isEmpty();

        List<Served> log = new ArrayList<>(hub.served());
        log.sort(Comparator.comparingLong(Served::arrivedAt));
        long end = System.nanoTime();
        StringBuilder report = new StringBuilder("LiveLimitsAtTheHubTest:");
        for (int p = 0; p < phases.size(); p++) {
            Phase phase = phases.get(p);
            Phase previous = p == 0 ? phase : phases.get(p - 1);
            long phaseEnd = p + 1 < phases.size() ? phases.get(p + 1).acceptedAt() : end;
            int higherRate = Math.max(phase.rps(), previous.rps());
            int higherInFlight = Math.max(phase.inFlight(), previous.inFlight());
            long inForce = phase.acceptedAt() + (p == 0 ? 0 : IN_FORCE_NANOS);
            int mostInForce = 0;
            int mostAround = 0;
            int mostRunningInForce = 0;
            long arrivedInForce = 0;
            int lo = 0;
            for (int j = 0; j < log.size(); j++) {
                long t = log.get(j).arrivedAt();
                while (log.get(lo).arrivedAt() <= t - SECOND) {
                    lo++;
                }
                if (t < phase.acceptedAt() || t >= phaseEnd) {
                    continue;
                }
                int window = j - lo + 1;
                int running = running(log, j);
                mostAround = Math.max(mostAround, window);
                assertThat(window).as("requests in the second up to %.3f s into phase %d (%s after %s): never more "
                        + "than the higher rate", (t - phase.acceptedAt()) / 1e9, p, phase, previous)
                        .isLessThanOrEqualTo(higherRate);
                assertThat(running).as("requests running at an arrival %.3f s into phase %d: never more than the "
                        + "higher in-flight limit", (t - phase.acceptedAt()) / 1e9, p).isLessThanOrEqualTo(higherInFlight);
                if (t >= inForce) {
                    arrivedInForce++;
                    mostRunningInForce = Math.max(mostRunningInForce, running);
                    assertThat(running).as("requests running at an arrival %.3f s after change %d to %s: the new "
                            + "in-flight limit is in force", (t - phase.acceptedAt()) / 1e9, p, phase)
                            .isLessThanOrEqualTo(phase.inFlight());
                }
                if (t - SECOND >= inForce + TOLERANCE_NANOS) {
                    mostInForce = Math.max(mostInForce, window);
                    assertThat(window).as("requests in the second up to %.3f s after change %d to %s: the new rate "
                            + "is in force", (t - phase.acceptedAt()) / 1e9, p, phase).isLessThanOrEqualTo(phase.rps());
                }
            }
            double rate = arrivedInForce / ((phaseEnd - inForce) / 1e9);
            report.append(String.format(" | phase %d %d/s %d in flight: from %s s on %.1f/s (%.0f%% of the rate), at most "
                            + "%d in a second (%d around the change), at most %d running", p, phase.rps(), phase.inFlight(),
                    p == 0 ? "0" : "2", rate, 100 * rate / phase.rps(), mostInForce, mostAround, mostRunningInForce));
            if (p == 0 || p == 2) {
                // Rate-bound phases (the in-flight limit allows well over the rate at a 40 ms Hub).
                assertThat(rate).as("phase %d (%s) uses the rate in force", p, phase)
                        .isGreaterThanOrEqualTo(0.85 * phase.rps());
            }
            if (p == 2) {
                assertThat(mostRunningInForce).as("the raised in-flight limit is used: more run than the old %d",
                        previous.inFlight()).isGreaterThan(previous.inFlight());
            }
            if (p == 3) {
                assertThat(mostRunningInForce).as("the lowered in-flight limit is used up to its value")
                        .isEqualTo(phase.inFlight());
            }
        }
        System.out.println(report);
        assertThat(hub.stats().violations().total()).as("violations of the run's highest limits").isZero();

        long last = followers.get(0).current().version();
        assertThat(followers.get(2).current().version()).as("node 2 did not hear of the last change").isLessThan(last);
        followers.get(2).step(own.get(2)); // it hears again
        for (int i = 0; i < 3; i++) {
            assertThat(followers.get(i).current().version()).isEqualTo(last);
            assertThat(limiters.get(i).snapshot().maxPerSecond()).isEqualTo(150);
            assertThat(limiters.get(i).snapshot().maxInFlight()).isEqualTo(4);
            assertThat(published.stream().filter(e -> e instanceof EventPayload.LimitsChanged)
                    .map(e -> (EventPayload.LimitsChanged) e).filter(e -> e.version() == last).count())
                    .as("every node published the last version").isEqualTo(3);
        }
        assertThat(published).hasSize(12);
    }

    /** Requests of {@code log} (sorted by arrival) running at the arrival of request {@code j}, itself included. */
    private static int running(List<Served> log, int j) {
        long t = log.get(j).arrivedAt();
        int n = 0;
        for (int k = j; k >= 0 && t - log.get(k).arrivedAt() < 10 * SECOND; k--) {
            if (log.get(k).answeredAt() > t || k == j) {
                n++;
            }
        }
        return n;
    }
}
