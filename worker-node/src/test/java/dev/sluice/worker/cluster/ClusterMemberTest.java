package dev.sluice.worker.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.instance.EndpointQualifier;
import dev.sluice.common.config.ClusterConfig;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class ClusterMemberTest {

    private static ClusterConfig cluster(String... overrides) {
        return TestConfigs.config("redis://127.0.0.1:1", overrides).cluster();
    }

    @Test
    void tcpMemberFollowsTheClusterSection() {
        Config config = ClusterMember.hazelcastConfig(cluster("cluster.name", "prod", "cluster.port", "5801",
                "cluster.bind_address", "127.0.0.1", "cluster.members", "10.0.0.1:5801,10.0.0.2",
                "cluster.member_timeout_secs", "4"), "node-a");
        assertThat(config.getClusterName()).isEqualTo("prod");
        assertThat(config.getMemberAttributeConfig().getAttribute(ClusterMember.NODE_ID_ATTRIBUTE)).isEqualTo("node-a");
        assertThat(config.getAdvancedNetworkConfig().isEnabled()).isTrue();
        ServerSocketEndpointConfig endpoint = memberEndpoint(config);
        assertThat(endpoint.getPort()).isEqualTo(5801);
        assertThat(endpoint.isPortAutoIncrement()).isFalse();
        assertThat(endpoint.getInterfaces().isEnabled()).isTrue();
        assertThat(endpoint.getInterfaces().getInterfaces()).containsExactly("127.0.0.1");
        assertThat(endpoint.getPublicAddress()).isEqualTo("127.0.0.1:5801");
        assertThat(config.getProperty("hazelcast.socket.bind.any")).isEqualTo("false");
        assertThat(config.getProperty("hazelcast.max.no.heartbeat.seconds")).isEqualTo("4");
        assertThat(config.getProperty("hazelcast.heartbeat.interval.seconds")).isEqualTo("1");
        JoinConfig join = config.getAdvancedNetworkConfig().getJoin();
        assertThat(join.getTcpIpConfig().isEnabled()).isTrue();
        assertThat(join.getTcpIpConfig().getMembers()).containsExactly("10.0.0.1:5801", "10.0.0.2");
        assertThat(join.getMulticastConfig().isEnabled()).isFalse();
        assertThat(join.getKubernetesConfig().isEnabled()).isFalse();
        assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
        assertThat(config.getSplitBrainProtectionConfig(ClusterMember.MAJORITY).getFunctionImplementation())
                .isInstanceOf(MajorityOfLastKnown.class);
    }

    @Test
    void membersOpenOnlyTheMemberEndpointAndFilterJavaSerialization() {
        Config config = ClusterMember.hazelcastConfig(cluster("cluster.bind_address", "0.0.0.0"), "node-a");
        assertThat(config.getAdvancedNetworkConfig().getEndpointConfigs()).containsOnlyKeys(EndpointQualifier.MEMBER);
        assertThat(config.getProperty("hazelcast.socket.bind.any")).isEqualTo("true");
        assertThat(config.getAdvancedNetworkConfig().getRestEndpointConfig()).isNull();
        assertThat(config.getJetConfig().isEnabled()).isFalse();
        assertThat(config.getRestConfig().isEnabled()).isFalse();
        JavaSerializationFilterConfig filter = config.getSerializationConfig().getJavaSerializationFilterConfig();
        assertThat(filter.isDefaultsDisabled()).isTrue();
        assertThat(filter.getWhitelist().isListed("com.hazelcast.splitbrainprotection.SplitBrainProtectionException")).isTrue();
        assertThat(filter.getWhitelist().isListed("java.lang.IllegalStateException")).isTrue();
        assertThat(filter.getWhitelist().isListed("[Ljava.lang.StackTraceElement;")).isTrue();
        assertThat(filter.getWhitelist().isListed("java.lang.invoke.SerializedLambda")).isFalse();
        assertThat(filter.getWhitelist().isListed("java.net.URL")).isFalse();
        assertThat(filter.getWhitelist().isListed("javax.management.BadAttributeValueExpException")).isFalse();
        assertThat(filter.getWhitelist().isListed("dev.sluice.worker.cluster.ClusterMember")).isFalse();
        assertThat(filter.getBlacklist().isListed("com.hazelcast.shaded.org.json.JSONObject")).isTrue();
    }

    private static ServerSocketEndpointConfig memberEndpoint(Config config) {
        return (ServerSocketEndpointConfig) config.getAdvancedNetworkConfig().getEndpointConfigs()
                .get(EndpointQualifier.MEMBER);
    }

    @Test
    void multicastAndKubernetesDiscoveryReplaceTheMemberList() {
        JoinConfig multicast = ClusterMember.hazelcastConfig(cluster("cluster.discovery", "multicast"), "n")
                .getAdvancedNetworkConfig().getJoin();
        assertThat(multicast.getMulticastConfig().isEnabled()).isTrue();
        assertThat(multicast.getTcpIpConfig().isEnabled()).isFalse();

        JoinConfig kubernetes = ClusterMember.hazelcastConfig(cluster("cluster.discovery", "kubernetes",
                "cluster.kubernetes_service", "sluice-workers"), "n").getAdvancedNetworkConfig().getJoin();
        assertThat(kubernetes.getKubernetesConfig().isEnabled()).isTrue();
        assertThat(kubernetes.getKubernetesConfig().getProperty("service-name")).isEqualTo("sluice-workers");
        assertThat(kubernetes.getTcpIpConfig().isEnabled()).isFalse();
    }

    @Test
    void membersFindEachOtherByMulticastUnderTheAdvancedNetworkConfig() {
        String name = "multicast-" + UUID.randomUUID().toString().substring(0, 8);
        try (ClusterMember a = ClusterMember.start(cluster("cluster.name", name, "cluster.discovery", "multicast",
                "cluster.port", Integer.toString(freePort())), "a", FleetHubLimiter::configure);
             ClusterMember b = ClusterMember.start(cluster("cluster.name", name, "cluster.discovery", "multicast",
                     "cluster.port", Integer.toString(freePort())), "b", FleetHubLimiter::configure)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> a.memberCount() == 2 && b.memberCount() == 2);
            assertThat(a.memberNodeIds()).containsExactly("a", "b");
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void memberGoneListenersHearTheNodeIdOfAKilledMember() throws Exception {
        try (TestFleet fleet = TestFleet.start(3)) {
            List<String> gone = new CopyOnWriteArrayList<>();
            fleet.member(0).onMemberGone(gone::add);
            assertThat(fleet.member(0).memberCount()).isEqualTo(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> fleet.member(0).partitionsSafe());

            fleet.terminate(2);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> !gone.isEmpty());
            assertThat(gone).containsExactly("node-2");
            assertThat(fleet.member(0).memberCount()).isEqualTo(2);
        }
    }

    @Test
    void crashedMembersKeepCountingForTheMajority() throws Exception {
        try (TestFleet fleet = TestFleet.start(3)) {
            fleet.terminate(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> fleet.member(0).memberCount() == 2);
            await().atMost(Duration.ofSeconds(5)).until(() -> fleet.member(0).lastKnownSize() == 3);
            assertThat(fleet.member(0).hasMajority()).as("two of three").isTrue();

            fleet.terminate(1);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !fleet.member(0).hasMajority());
            assertThat(fleet.member(0).lastKnownSize()).as("one of three").isEqualTo(3);
        }
    }

    @Test
    void gracefulLeavesShrinkTheFleetSoTheLastMemberKeepsWorking() throws Exception {
        try (TestFleet fleet = TestFleet.start(3)) {
            fleet.member(2).close();
            await().atMost(Duration.ofSeconds(15)).until(() -> fleet.member(0).memberCount() == 2);
            await().atMost(Duration.ofSeconds(5)).until(() -> fleet.member(0).lastKnownSize() == 2);
            fleet.member(1).close();
            await().atMost(Duration.ofSeconds(15)).until(() -> fleet.member(0).memberCount() == 1);
            await().atMost(Duration.ofSeconds(5)).until(() -> fleet.member(0).lastKnownSize() == 1);
            assertThat(fleet.member(0).hasMajority()).isTrue();
        }
    }
}
