package dev.sluice.worker;

import com.hazelcast.cluster.Cluster;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.identity.MemberVetting;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.fleet.FleetSettings;
import dev.sluice.worker.limits.fleet.RateShape;
import dev.sluice.worker.limits.fleet.grant.GrantorLease;
import dev.sluice.worker.limits.fleet.grant.RedisArbitrationStore;
import dev.sluice.worker.pool.RedisCalls;
import dev.sluice.worker.pool.RedisConnections;

import java.time.Duration;

/** The parts a node of a fleet has and a node alone has not: its limiter, the grantor lease, the member vetting. */
final class FleetWiring {

    private FleetWiring() {
    }

    /**
     * The grantor lease that decides which side of the cluster may grant Hub capacity: its lease is the node's
     * ({@code node.lease_ms}), its margin a quarter of that, and its quiet time the longest a grant made before a
     * change can still count at the Hub (a sliding second plus the lateness tolerance, or a permit's lease).
     */
    static GrantorLease grantorLease(SluiceConfig config, ClusterMember cluster, RedisCalls redis,
                                     NodeRecord record, FleetHubLimiter fleet) {
        Duration lease = Duration.ofMillis(config.node().leaseMs());
        int rps = config.hub().maxRequestsPerSecond();
        Duration rateQuiet = Duration.ofSeconds(1).plus(RateShape.of(rps).latenessTolerance(rps));
        Duration permitQuiet = Duration.ofMillis(config.hub().permitLeaseMs());
        Duration quiet = rateQuiet.compareTo(permitQuiet) > 0 ? rateQuiet : permitQuiet;
        Cluster hz = cluster.hazelcast().getCluster();
        GrantorLease lease1 = new GrantorLease(new RedisArbitrationStore(redis, cluster.clusterName()),
                record.incarnation(), config.node().id(), () -> hz.getLocalMember().getUuid().toString(),
                member -> hz.getMembers().stream().anyMatch(m -> m.getUuid().toString().equals(member)),
                GrantorLease.Timing.of(lease, lease.dividedBy(4), quiet), System::nanoTime);
        fleet.decideGrantsBy(lease1);
        cluster.onRejoin(() -> lease1.quiet(System.nanoTime()));
        return lease1;
    }

    /** The fleet's limiter on {@code cluster}; the member is closed if the limiter cannot be made. */
    static FleetHubLimiter limiter(SluiceConfig config, ClusterMember cluster) {
        try {
            return new FleetHubLimiter(cluster, FleetSettings.of(config.hub(), config.cluster()));
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /** Vets the cluster's members against their registrations in Redis; a stranger is distrusted by the limiter. */
    static MemberVetting vetting(SluiceConfig config, ClusterMember cluster, RedisConnections redis,
                                 FleetHubLimiter fleet) {
        return new MemberVetting(redis, () -> cluster.hazelcast().getCluster().getMembers(),
                () -> cluster.hazelcast().getCluster().getLocalMember().getUuid(), config.node().id(),
                Duration.ofMillis(3L * config.node().leaseMs()), System::nanoTime, fleet::distrust, fleet::trust);
    }
}
