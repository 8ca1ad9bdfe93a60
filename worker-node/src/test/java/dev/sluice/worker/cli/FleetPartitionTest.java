package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real network partition, not a termination: the third node runs in its own network namespace, joined to the
 * host by a veth pair, and its Hazelcast traffic is dropped by iptables rules in that namespace while it keeps
 * reaching Redis and the Hub. With the default policy (fail-closed) the cut-off node makes no Hub call, the
 * majority keeps working, the Hub never sees more than its limits, and after the rules are removed the cluster
 * merges and every job finishes.
 *
 * <p>Needs root (network namespaces, iptables), as on the project's CI machine; {@code bin/test} installs iproute2
 * and iptables ({@link NetNamespace}).
 */
class FleetPartitionTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().args("--bind", "0.0.0.0").build();

    private static final String STREAM = "sluice:jobs";
    private static final int JOBS = 900;
    private static NetNamespace ns;

    @BeforeAll
    static void namespace() throws Exception {
        ns = NetNamespace.create("slp");
    }

    @AfterAll
    static void removeNamespace() {
        if (ns != null) {
            ns.close();
        }
    }

    private static int port(String url) {
        return URI.create(url).getPort();
    }

    @Test
    void aNodeCutOffFromTheClusterMakesNoHubCallsTheMajorityWorksAndAllJobsFinishAfterTheMerge() throws Exception {
        try (HubSimulator hub = HubSimulator.builder().host("0.0.0.0").latencyMs(60).jitterMs(40)
                .maxRequestsPerSecond(20).maxInFlight(6).build().start();
             Jedis j = redis.server().newJedis()) {
            for (int i = 0; i < JOBS; i++) {
                j.xadd(STREAM, StreamEntryID.NEW_ENTRY, Map.of("key", "k" + i));
            }
            String hostHub = "http://127.0.0.1:" + hub.port();
            Map<String, String> env = Map.of(
                    "SLUICE_REDIS_URL", "redis://127.0.0.1:" + port(redis.url()),
                    "SLUICE_HUB_BASE_URL", hostHub,
                    "SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "20",
                    "SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "6",
                    "SLUICE_HUB_REQUEST_TIMEOUT_MS", "2000",
                    "SLUICE_NODE_CONCURRENCY", "8");
            FleetNodes.Placement cutOff = new FleetNodes.Placement(ns.nsIp(), ns.wrapper(),
                    Map.of("SLUICE_REDIS_URL", "redis://" + ns.hostIp() + ":" + port(redis.url()),
                            "SLUICE_HUB_BASE_URL", "http://" + ns.hostIp() + ":" + hub.port()));
            try (FleetNodes fleet = FleetNodes.start("part", List.of(FleetNodes.Placement.at(ns.hostIp()),
                    FleetNodes.Placement.at(ns.hostIp()), cutOff), env, Duration.ofSeconds(90))) {
                FleetNodes.Node a = fleet.node("part-1");
                FleetNodes.Node c = fleet.node("part-3");
                // The Hub is judged from the first request on, the nodes' cold starts included.
                await().atMost(Duration.ofSeconds(60)).until(() -> j.keys("sluice:result:*").size() >= 100);

                // Drop the cut-off node's Hazelcast traffic, both ways, and nothing else.
                System.out.printf("FleetPartitionTest: cutting %s off at %s%n", c.id(), java.time.LocalTime.now());
                ns.dropTcpPorts(FleetJudge.memberPorts(fleet));
                long cutAt = System.nanoTime();

                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() ->
                        !c.status().path("cluster").path("majority").asBoolean(true) && a.clusterMembers() == 2);
                double noticedAfter = (System.nanoTime() - cutAt) / 1e9;
                assertThat(c.status().path("cluster").path("limits").path("degraded").asText())
                        .as("the cut-off node applies cluster.on_store_failure").isNotBlank();
                int resultsAtSplit = j.keys("sluice:result:*").size();
                double cutOffCallsAtSplit = c.metric("sluice_hub_requests_total");
                TimeUnit.SECONDS.sleep(10);
                int resultsAfterSplit = j.keys("sluice:result:*").size();
                double cutOffCalls = c.metric("sluice_hub_requests_total");
                assertThat(resultsAfterSplit - resultsAtSplit).as("jobs the majority finished during the partition")
                        .isGreaterThan(50);
                assertThat(cutOffCalls).as("Hub calls of the cut-off node during the partition").isEqualTo(cutOffCallsAtSplit);
                assertThat(c.status().path("cluster").path("limits").path("heldHere").asInt())
                        .as("permits held on the cut-off node").isZero();
                long fallbacks = c.status().path("cluster").path("limits").path("fallbacks").asLong();

                // Heal: the cluster merges and every job finishes.
                System.out.printf("FleetPartitionTest: healing at %s%n", java.time.LocalTime.now());
                ns.heal();
                long healedAt = System.nanoTime();
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).until(() ->
                        fleet.nodes().stream().allMatch(node -> node.clusterMembers() == 3)
                                && c.status().path("cluster").path("majority").asBoolean(false));
                double mergedAfter = (System.nanoTime() - healedAt) / 1e9;
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                        .until(() -> j.keys("sluice:result:*").size() >= JOBS);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                        .until(() -> j.xlen(STREAM) == 0 && j.xpending(STREAM, "sluice").getTotal() == 0);
                HubStats stats = hub.stats();
                System.out.printf("FleetPartitionTest: split noticed after %.1f s; %d jobs done by the majority in 10 s of "
                                + "partition; the cut-off node made no Hub call (%d acquires refused there); merged %.1f s after healing; Hub "
                                + "from the first request: %d requests, at most %d in a sliding second, at most %d in flight, violations %s, "
                                + "statuses %s; requests held back for late tokens by node %s%n",
                        noticedAfter, resultsAfterSplit - resultsAtSplit, fallbacks, mergedAfter, stats.totalRequests(),
                        stats.maxWindowRequests(), stats.maxInFlight(), stats.violations(), stats.byStatus(),
                        fleet.nodes().stream().map(node -> node.metric("sluice_hub_tokens_missed_total")).toList());
                assertThat(stats.violations().total()).as("violations at the Hub").isZero();
                assertThat(stats.maxWindowRequests()).isLessThanOrEqualTo(20);
                assertThat(stats.maxInFlight()).isLessThanOrEqualTo(6);
                assertThat(stats.count(429)).isZero();
                assertThat(stats.distinctKeys()).as("jobs called at the Hub").isEqualTo(JOBS);
                // The cut-off node neither called the Hub nor re-queued the jobs the majority took over from it.
                assertThat(stats.count(200) - stats.distinctKeys()).as("jobs run twice").isLessThanOrEqualTo(8);
                assertThat(j.exists("sluice:dead")).as("nothing dead-lettered").isFalse();
            }
        }
    }
}
