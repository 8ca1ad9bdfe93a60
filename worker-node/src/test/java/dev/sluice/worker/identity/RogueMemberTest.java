package dev.sluice.worker.identity;

import com.hazelcast.core.HazelcastInstance;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.SecuredFleet;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.WorkerNode;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A process that joins the Hazelcast cluster without being a Sluice node (it could not register in Redis) makes
 * every node distrust the limiter's store (cluster.on_store_failure applies, the limiter reports itself degraded,
 * which the coordinator alerts on) until it leaves. Real members, a real rogue member, a real redis-server.
 */
class RogueMemberTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static WorkerNode node(SecuredFleet fleet, int i, HubSimulator hub) {
        WorkerNode node = new WorkerNode(TestConfigs.config(redis.url(), "node.id", "node-" + i, "node.lease_ms", "500",
                "hub.base_url", hub.baseUrl()), new SimpleMeterRegistry(), fleet.member(i));
        node.start();
        return node;
    }

    @Test
    void anUnregisteredMemberMakesEveryNodeDistrustTheStoreUntilItLeaves() {
        try (HubSimulator hub = HubSimulator.builder().build().start();
             SecuredFleet fleet = SecuredFleet.start(2, "");
             WorkerNode a = node(fleet, 0, hub);
             WorkerNode b = node(fleet, 1, hub)) {
            FleetHubLimiter la = (FleetHubLimiter) a.limiter();
            FleetHubLimiter lb = (FleetHubLimiter) b.limiter();
            // Two registered nodes: past the grace (3 leases, 1.5 s) and the fresh fleet's wait for its first grant
            // (a lease plus the quiet time), nothing is distrusted.
            await().atMost(Duration.ofSeconds(20)).until(() -> la.granting() && lb.granting());

            HazelcastInstance rogue = fleet.startRogue();
            // Every node is quiet for a while after a member joins; once the grace for registering is over, the
            // reason is the unregistered member.
            await().atMost(Duration.ofSeconds(15)).until(() -> la.degraded() && lb.degraded()
                    && String.valueOf(la.degradedReason()).contains("is not a registered Sluice node")
                    && String.valueOf(lb.degradedReason()).contains("is not a registered Sluice node"));
            assertThat(la.degradedReason()).contains("is not a registered Sluice node")
                    .contains(rogue.getCluster().getLocalMember().getUuid().toString());

            rogue.getLifecycleService().terminate();
            await().atMost(Duration.ofSeconds(15)).until(() -> !la.degraded() && !lb.degraded());
        }
    }
}
