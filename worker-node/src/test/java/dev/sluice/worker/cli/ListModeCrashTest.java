package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * List mode judges other nodes by their liveness record ({@code sluice:node:<id>}) alone. Two real worker processes
 * share a list, each in a cluster of its own (so no cluster view tells one of the other's death): while both live,
 * each holds its jobs for 2.5 visibility timeouts and none is ever taken from it; once one is SIGKILLed, the other
 * moves its processing list back to the queue only after the dead node's record has stood still for a full lease,
 * and every job ends in the results.
 */
class ListModeCrashTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final int JOBS = 300;
    private static final Duration LEASE = Duration.ofMillis(4_000);
    private static final String DELIVERIES = "sluice:queue:deliveries";

    private static NodeProcess worker(String nodeId, HubSimulator hub) {
        int port = FleetNodes.freePort();
        return NodeProcess.forMainClass(Main.class).args("worker")
                .env("SLUICE_REDIS_URL", redis.url())
                .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "2000")
                .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "20")
                .env("SLUICE_QUEUE_MODE", "list")
                .env("SLUICE_QUEUE_VISIBILITY_TIMEOUT_SECS", "1")
                .env("SLUICE_NODE_LEASE_MS", Long.toString(LEASE.toMillis()))
                .env("SLUICE_NODE_CONCURRENCY", "10")
                .env("SLUICE_NODE_ID", nodeId)
                .env("SLUICE_CLUSTER_NAME", "alone-" + nodeId + "-" + Long.toHexString(System.nanoTime()))
                .env("SLUICE_CLUSTER_PORT", Integer.toString(port))
                .env("SLUICE_CLUSTER_MEMBERS", "127.0.0.1:" + port)
                .env("SLUICE_KAFKA_ENABLED", "false")
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", "127.0.0.1")
                .name(nodeId)
                .maxHeap("256m").start();
    }

    /** One look at the victim's record, on the test's monotonic clock (the same clock as the processes'). */
    private record Look(long nanos, String seq) {
    }

    @Test
    void aKilledNodesJobsAreTakenOverOnlyAfterItsRecordStoodStillForALeaseAndALiveNodesNever() {
        try (HubSimulator hub = HubSimulator.builder().latencyMs(2_500).build().start();
             Jedis j = redis.server().newJedis()) {
            for (int i = 0; i < JOBS; i++) {
                j.lpush("sluice:queue", "k" + i);
            }
            try (NodeProcess victim = worker("victim", hub); NodeProcess survivor = worker("survivor", hub)) {
                victim.awaitLog(Pattern.compile("node victim started"), Duration.ofSeconds(60));
                survivor.awaitLog(Pattern.compile("node survivor started"), Duration.ofSeconds(60));

                // Both live, each job held 2.5 s: five visibility timeouts and more than a lease, nothing is taken.
                List<Look> looks = new ArrayList<>();
                await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(20))
                        .until(() -> {
                            looks.add(new Look(System.nanoTime(), j.hget("sluice:node:victim", "seq")));
                            return j.hlen(DELIVERIES) == 0;
                        });
                // Requests arriving from now on are held 4 s (within the 5 s request timeout). Once the requests
                // already there have had their 2.5 s, every job the victim holds is in flight until at least 4 s after
                // this: killed in between, it surely dies holding jobs (a wave of its jobs, all fetched together, could
                // otherwise end in the moment between looking at its list and the kill).
                hub.setLatency(4_000, 0);
                long raised = System.nanoTime();
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).until(() -> {
                    looks.add(new Look(System.nanoTime(), j.hget("sluice:node:victim", "seq")));
                    return System.nanoTime() - raised > TimeUnit.MILLISECONDS.toNanos(2_600)
                            && j.llen("sluice:queue:processing:victim") >= 5;
                });
                long killedAt = System.nanoTime();
                victim.kill();
                long pendingAtKill = j.llen("sluice:queue:processing:victim");
                assertThat(System.nanoTime() - raised).as("killed while its jobs were held at the Hub")
                        .isLessThan(TimeUnit.MILLISECONDS.toNanos(4_000));
                assertThat(pendingAtKill).as("jobs in flight on the victim at SIGKILL").isPositive();
                String lastSeq = j.hget("sluice:node:victim", "seq");
                assertThat(looks.stream().map(Look::seq).distinct().count()).as("the victim's record moved while it lived")
                        .isGreaterThan(2);
                assertThat(victim.log() + survivor.log()).doesNotContain("left in flight by dead node");
                hub.setLatency(20, 0);

                // The last moment its final seq was not there yet: nobody can have seen the record stand still before.
                long stillSince = looks.stream().filter(l -> !lastSeq.equals(l.seq())).mapToLong(Look::nanos).max()
                        .orElse(looks.getFirst().nanos());
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(10))
                        .until(() -> j.llen("sluice:queue:processing:victim") == 0);
                long takenAt = System.nanoTime();
                System.out.printf("ListModeCrashTest: %d jobs in flight on the victim at SIGKILL; its processing list was "
                        + "taken over %d ms after the kill, at most %d ms after its final renewal (lease %d ms)%n",
                        pendingAtKill, (takenAt - killedAt) / 1_000_000, (takenAt - stillSince) / 1_000_000,
                        LEASE.toMillis());
                assertThat(Duration.ofNanos(takenAt - stillSince)).as("taken over after the record stood still a lease")
                        .isGreaterThanOrEqualTo(LEASE);
                assertThat(Duration.ofNanos(takenAt - killedAt)).as("and soon after").isLessThan(LEASE.plusSeconds(10));
                assertThat(survivor.log()).contains("moved " + pendingAtKill + " job(s) left in flight by dead node "
                        + "victim back to the queue: its record sluice:node:victim stood still for " + LEASE.toMillis() + " ms");

                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                        .until(() -> j.keys("sluice:result:*").size() >= JOBS && j.llen("sluice:queue") == 0
                                && j.llen("sluice:queue:processing:survivor") == 0);
                List<String> missing = new ArrayList<>();
                for (int i = 0; i < JOBS; i++) {
                    if (!j.exists("sluice:result:hub-fetch:k" + i)) {
                        missing.add("k" + i);
                    }
                }
                assertThat(missing).as("jobs without a result").isEmpty();
                assertThat(j.exists("sluice:dead")).as("nothing dead-lettered").isFalse();
                assertThat(j.hlen(DELIVERIES)).as("redelivery counts cleared by the acknowledgements").isZero();
                HubStats stats = hub.stats();
                assertThat(stats.distinctKeys()).isEqualTo(JOBS);
                assertThat(stats.count(200) - stats.distinctKeys()).as("only jobs in flight at the kill ran twice")
                        .isBetween(0L, pendingAtKill);
                assertThat(survivor.isAlive()).as(survivor.log()).isTrue();
            }
        }
    }
}
