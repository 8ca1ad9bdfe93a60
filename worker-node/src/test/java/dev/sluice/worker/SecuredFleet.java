package dev.sluice.worker;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import dev.sluice.common.config.ClusterConfig;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Worker nodes' cluster members as production builds them ({@link ClusterMember#start} from a {@code [cluster]}
 * section: member endpoint only, Java serialization filter, control messages under {@code cluster.secret}), in this
 * JVM on loopback, plus the outsiders a test needs: a plain Hazelcast member that joins with the cluster name
 * ({@link #startRogue}).
 */
public final class SecuredFleet implements AutoCloseable {
    private final String clusterName = "secured-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<Integer> ports = new ArrayList<>();
    private final List<ClusterMember> members = new ArrayList<>();
    private final List<FleetHubLimiter> limiters = new ArrayList<>();
    private final List<HazelcastInstance> rogues = new ArrayList<>();

    private SecuredFleet() {
    }

    /** Starts {@code n} members whose {@code cluster.secret} is {@code secret} (empty: none). */
    public static SecuredFleet start(int n, String secret) {
        SecuredFleet fleet = new SecuredFleet();
        try {
            for (int i = 0; i < n; i++) {
                fleet.startMember(secret);
            }
            for (ClusterMember m : fleet.members) {
                m.awaitMajority(Duration.ofSeconds(20));
            }
        } catch (RuntimeException e) {
            fleet.close();
            throw e;
        }
        return fleet;
    }

    /** Starts one more member, with {@code secret}, which joins the running ones; returns its index. */
    public ClusterMember startMember(String secret) {
        int port = freePort();
        ports.add(port);
        int index = ports.size() - 1;
        ClusterConfig cluster = TestConfigs.config("redis://127.0.0.1:1", "cluster.name", clusterName,
                "cluster.port", Integer.toString(port), "cluster.members", String.join(",", addresses()),
                "cluster.secret", secret).cluster();
        ClusterMember member = ClusterMember.start(cluster, "node-" + index, SecuredFleet::joinAtOnce);
        members.add(member);
        return member;
    }

    private static void joinAtOnce(Config config) {
        FleetHubLimiter.configure(config);
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "0");
    }

    /**
     * A plain Hazelcast member (no Sluice configuration, legacy network config) that knows the cluster name and the
     * members' addresses, and joins. It owns no partitions (a lite member), so the limiter's maps stay on the nodes.
     */
    public HazelcastInstance startRogue() {
        Config config = new Config();
        config.setClusterName(clusterName);
        config.setInstanceName(clusterName + "-rogue-" + rogues.size());
        config.setLiteMember(true);
        // It claims the limiter protocol the nodes speak: only the member vetting (registration in Redis) tells it apart.
        config.getMemberAttributeConfig().setAttribute(FleetHubLimiter.PROTOCOL_ATTRIBUTE, FleetHubLimiter.PROTOCOL);
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "0");
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(freePort()).setPortAutoIncrement(false);
        network.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setMembers(addresses());
        HazelcastInstance rogue = Hazelcast.newHazelcastInstance(config);
        rogues.add(rogue);
        return rogue;
    }

    public ClusterMember member(int i) {
        return members.get(i);
    }

    /** A limiter on member {@code i}, closed with the fleet. */
    public FleetHubLimiter limiter(int i) {
        FleetHubLimiter limiter = new FleetHubLimiter(member(i), TestFleet.settings(5, 100, Duration.ofSeconds(6),
                StoreFailurePolicy.FAIL_CLOSED));
        limiters.add(limiter);
        return limiter;
    }

    /** {@code 127.0.0.1:port} of every member started so far. */
    public List<String> addresses() {
        return ports.stream().map(p -> "127.0.0.1:" + p).toList();
    }

    public String clusterName() {
        return clusterName;
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        for (FleetHubLimiter l : limiters) {
            l.close();
        }
        for (HazelcastInstance rogue : rogues) {
            rogue.getLifecycleService().terminate();
        }
        for (ClusterMember m : members) {
            m.hazelcast().getLifecycleService().terminate();
            m.close(); // the member is gone already: this only stops its sampler
        }
    }
}
