package dev.sluice.worker;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The node's leases (its liveness record and the fleet's grantor lease) never wait behind the pool or the maintenance
 * thread: with the node's only pooled connection held elsewhere for three leases, so that the maintenance thread is
 * stuck waiting for it, both records keep moving in Redis at their pace and the limiter keeps its right to grant. A
 * real fleet node (Hazelcast member), a real redis-server.
 */
class LeaseRenewalsTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static final long LEASE_MS = 1_500;

    @Test
    void renewalsKeepTheirPaceWhileThePoolAndTheMaintenanceThreadAreStuck() throws Exception {
        try (HubSimulator hub = HubSimulator.builder().build().start();
             SecuredFleet fleet = SecuredFleet.start(1, "");
             Jedis observer = redis.server().newJedis();
             WorkerNode node = new WorkerNode(TestConfigs.config(redis.url(), "node.id", "node-0",
                     "node.lease_ms", Long.toString(LEASE_MS), "redis.pool_size", "1",
                     "redis.connection_timeout_ms", "500", "hub.base_url", hub.baseUrl()),
                     new SimpleMeterRegistry(), fleet.member(0))) {
            node.start();
            FleetHubLimiter limiter = (FleetHubLimiter) node.limiter();
            await().atMost(Duration.ofSeconds(20)).until(limiter::granting);
            String recordKey = NodeRecord.key("node-0");
            String grantorKey = observer.keys("sluice:limits:grantor:*").iterator().next();

            CountDownLatch holding = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = Thread.ofPlatform().name("test-pool-holder").start(() -> node.redis().withJedis(j -> {
                holding.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }));
            try {
                assertThat(holding.await(5, TimeUnit.SECONDS)).as("the test holds the only pooled connection").isTrue();
                long timeoutsBefore = node.redis().borrowTimeouts();
                long recordSeq = seq(observer, recordKey);
                long grantorSeq = seq(observer, grantorKey);
                int recordMoves = 0;
                int grantorMoves = 0;
                boolean alwaysGranting = true;
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(3 * LEASE_MS);
                while (System.nanoTime() < end) {
                    // The scenario's length is three leases; each look samples the records and the limiter.
                    TimeUnit.MILLISECONDS.sleep(100);
                    long r = seq(observer, recordKey);
                    long g = seq(observer, grantorKey);
                    recordMoves += r > recordSeq ? 1 : 0;
                    grantorMoves += g > grantorSeq ? 1 : 0;
                    recordSeq = r;
                    grantorSeq = g;
                    alwaysGranting &= limiter.granting();
                }
                long stuckBorrows = node.redis().borrowTimeouts() - timeoutsBefore;
                System.out.printf("LeaseRenewalsTest: pool held for %d ms; node record moved %d times, grantor record "
                        + "%d times; pooled borrows that timed out meanwhile %d; granting throughout: %s%n",
                        3 * LEASE_MS, recordMoves, grantorMoves, stuckBorrows, alwaysGranting);
                assertThat(stuckBorrows).as("borrows of the maintenance thread that timed out: it was stuck")
                        .isPositive();
                // Renewed every third (record) and sixth (grantor) of a lease: 9 and 18 in three leases.
                assertThat(recordMoves).as("renewals of the node record seen").isGreaterThanOrEqualTo(6);
                assertThat(grantorMoves).as("renewals of the grantor lease seen").isGreaterThanOrEqualTo(12);
                assertThat(alwaysGranting).as("the limiter kept its right to grant").isTrue();
            } finally {
                release.countDown();
                holder.join(5_000);
            }
        }
    }

    private static long seq(Jedis j, String key) {
        String seq = j.hget(key, "seq");
        return seq == null ? -1 : Long.parseLong(seq);
    }
}
