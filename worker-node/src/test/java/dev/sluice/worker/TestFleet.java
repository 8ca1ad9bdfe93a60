package dev.sluice.worker;

import com.hazelcast.config.Config;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.testkit.HazelcastMembers;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.fleet.FleetSettings;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Embedded Hazelcast members (the testkit's, on loopback, fast failure detection) configured as worker nodes'
 * members are: the fleet limiter's maps, serializers and majority protection, and a node id per member
 * ({@code node-<index>}).
 */
public final class TestFleet implements AutoCloseable {
    private final HazelcastMembers members;
    private final List<ClusterMember> attached = new ArrayList<>();
    private final List<FleetHubLimiter> closing = new ArrayList<>();

    private TestFleet(HazelcastMembers members) {
        this.members = members;
    }

    /** Starts {@code n} members and waits until each holds a majority. */
    public static TestFleet start(int n) {
        return start(n, config -> { });
    }

    /** Starts {@code n} members, each configuration also changed by {@code extra}, and waits for a majority. */
    public static TestFleet start(int n, java.util.function.Consumer<Config> extra) {
        HazelcastMembers members = HazelcastMembers.builder().members(n)
                .configure(FleetHubLimiter::configure)
                .configure(TestFleet::nameNode)
                .configure(extra)
                .build().start();
        TestFleet fleet = new TestFleet(members);
        for (int i = 0; i < n; i++) {
            ClusterMember member = ClusterMember.attach(members.member(i));
            member.awaitMajority(Duration.ofSeconds(20));
            fleet.attached.add(member);
        }
        return fleet;
    }

    private static void nameNode(Config config) {
        String instance = config.getInstanceName();
        config.getMemberAttributeConfig().setAttribute(ClusterMember.NODE_ID_ATTRIBUTE,
                "node-" + instance.substring(instance.lastIndexOf('-') + 1));
    }

    public ClusterMember member(int i) {
        return attached.get(i);
    }

    public HazelcastMembers members() {
        return members;
    }

    /** A limiter on member {@code i}, closed with the fleet. */
    public FleetHubLimiter limiter(int i, FleetSettings settings) {
        FleetHubLimiter limiter = new FleetHubLimiter(member(i), settings);
        closing.add(limiter);
        return limiter;
    }

    /** Settings with test-sized timings around the given limits and lease. */
    public static FleetSettings settings(int maxInFlight, int maxPerSecond, Duration lease,
                                                    StoreFailurePolicy policy) {
        return new FleetSettings(maxInFlight, maxPerSecond, lease, lease.dividedBy(3), policy, Duration.ofMillis(200),
                Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(200));
    }

    /** Ends member {@code i} abruptly, as a crash would. */
    public void terminate(int i) {
        members.terminate(i);
    }

    @Override
    public void close() {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        members.close();
    }
}
