package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.MapConfig;
import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HazelcastMembersTest {

    private static final Set<String> CLUSTER_NAMES = ConcurrentHashMap.newKeySet();

    @RegisterExtension
    static HazelcastExtension hazelcast = HazelcastExtension.builder()
            .members(3)
            .configure(config -> config.addMapConfig(new MapConfig("permits").setBackupCount(2)))
            .build();

    @Test
    @Order(1)
    void threeMembersFormOneCluster(HazelcastMembers members) {
        assertThat(members.size()).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            HazelcastInstance member = members.member(i);
            assertThat(member.getCluster().getMembers()).hasSize(3);
            assertThat(member.getConfig().getClusterName()).isEqualTo(members.clusterName());
            assertThat(member.getConfig().getAdvancedNetworkConfig().getJoin().getTcpIpConfig().getMembers())
                    .isNotEmpty().allMatch(address -> address.matches("127\\.0\\.0\\.1:\\d+"));
            assertThat(member.getConfig().getMapConfig("permits").getBackupCount()).isEqualTo(2);
        }
        members.member(0).getMap("permits").put("hub", 5);
        assertThat(members.member(2).<String, Integer>getMap("permits").get("hub")).isEqualTo(5);
        CLUSTER_NAMES.add(members.clusterName());
    }

    @Test
    @Order(2)
    void eachTestGetsAClusterOfItsOwn(HazelcastMembers members) {
        assertThat(CLUSTER_NAMES).doesNotContain(members.clusterName());
        assertThat(members.member(0).getMap("permits").size()).isZero();
        CLUSTER_NAMES.add(members.clusterName());
    }

    @Test
    @Order(3)
    void terminateLeavesTwoMembersAndTheClusterNotices(HazelcastMembers members) throws InterruptedException {
        CountDownLatch removed = new CountDownLatch(1);
        members.member(0).getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                removed.countDown();
            }
        });

        members.terminate(1);

        assertThat(members.size()).isEqualTo(2);
        assertThat(members.member(1).getLifecycleService().isRunning()).isFalse();
        assertThat(removed.await(30, TimeUnit.SECONDS)).as("member 0 was told member 1 left").isTrue();
        await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(members.member(0).getCluster().getMembers()).hasSize(2);
            assertThat(members.member(2).getCluster().getMembers()).hasSize(2);
        });
    }

    @Test
    @Order(4)
    void aMemberStartedLaterJoinsTheCluster(HazelcastMembers members) {
        members.member(0).getMap("permits").put("hub", 5);

        int added = members.startMember();

        assertThat(added).isEqualTo(3);
        members.awaitClusterSize(4, Duration.ofSeconds(30));
        assertThat(members.member(added).<String, Integer>getMap("permits").get("hub")).isEqualTo(5);
    }

    @Test
    @Order(5)
    void aTerminatedMemberCanRejoinOnItsPort(HazelcastMembers members) {
        String address = members.address(2);
        members.terminate(2);
        members.awaitClusterSize(2, Duration.ofSeconds(30));

        HazelcastInstance back = members.restart(2);

        members.awaitClusterSize(3, Duration.ofSeconds(30));
        assertThat(back.getCluster().getLocalMember().getAddress().toString()).isEqualTo("[" + address.replace(":", "]:"));
    }
}
