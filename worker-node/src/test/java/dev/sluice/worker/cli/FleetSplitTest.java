package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.sluice.worker.cli.FleetJudge.LEASE_MS;
import static dev.sluice.worker.cli.FleetJudge.RPS;
import static dev.sluice.worker.cli.FleetJudge.STREAM;
import static dev.sluice.worker.cli.FleetJudge.allAlive;
import static dev.sluice.worker.cli.FleetJudge.assertWithinLimits;
import static dev.sluice.worker.cli.FleetJudge.awaitAllDoneWithinLimits;
import static dev.sluice.worker.cli.FleetJudge.awaitRecovery;
import static dev.sluice.worker.cli.FleetJudge.enqueue;
import static dev.sluice.worker.cli.FleetJudge.env;
import static dev.sluice.worker.cli.FleetJudge.grantorNode;
import static dev.sluice.worker.cli.FleetJudge.holdUntil;
import static dev.sluice.worker.cli.FleetJudge.hub;
import static dev.sluice.worker.cli.FleetJudge.hubCalls;
import static dev.sluice.worker.cli.FleetJudge.lastChange;
import static dev.sluice.worker.cli.FleetJudge.memberPorts;
import static dev.sluice.worker.cli.FleetJudge.otherThan;
import static dev.sluice.worker.cli.FleetJudge.seconds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A 1|1 cut of a fleet of two real node processes sharing the Hub's limits (100 requests a second, 20 in flight) under
 * the grantor lease (3 s lease, 2 s request timeout, 1 s permit grace): one node runs in its own network namespace and
 * iptables there drops the Hazelcast traffic between the two, while both still reach Redis and the Hub. Each side then
 * has a full copy of the limiter's store. docs/fleet-limits.md says which side keeps calling the Hub: the one holding
 * the grantor lease; the other sends only what it already holds, then nothing new. The Hub simulator judges: no
 * sliding second over the rate, never more in flight than the limit, every job answered.
 *
 * <p>Needs root (network namespaces, iptables), as on the project's CI machine.
 */
class FleetSplitTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().args("--bind", "0.0.0.0").build();

    /** What one cut measured, in seconds after it unless said otherwise. */
    private record Cut(String holder, String other, long otherCallsAtCut, double otherLastCallAt,
                       long otherCallsALeaseOn, long otherCallsAtHeal, long holderCallsDuringCut, double recoveredAfter,
                       double healedAfter, double mergedAfterHeal) {
        String describe() {
            return String.format("grantor %s kept calling the Hub (%d calls during the cut) and the Hub ran at 90%% of "
                            + "%d/s over 2 s %.1f s after the cut; %s's Hub calls: %d at the cut, last seen growing "
                            + "%.1f s after it, %d a lease after it, %d at the heal %.1f s after the cut; merged %.1f s "
                            + "after the heal", holder, holderCallsDuringCut, RPS, recoveredAfter, other,
                    otherCallsAtCut, otherLastCallAt, otherCallsALeaseOn, otherCallsAtHeal, healedAfter,
                    mergedAfterHeal);
        }
    }

    /**
     * Two 1|1 cuts in one fleet, 10 s each. The first is made while the fleet is idle (the stream empty, no permit
     * held: the whole limit unallocated) and the jobs come in during it: the grantor's side takes them up alone. The
     * second is made at full load, both nodes calling the Hub (permits granted and given back all the time: shares
     * moving): the node without the grantor lease sends only what it held and its permits end in its own copy of the
     * store while the grantor's side grants and releases in the other, so the heal comes after both copies changed.
     * For each cut: the node without the lease makes no Hub call from a lease after the cut until the heal, the
     * grantor's side runs at 90% of the limit within 20 s of the cut, each node sees only itself before the heal and
     * both see each other after it; in the end every job is done within the limits and no node process exited.
     */
    @Test
    void aOneOneCutIdleAndOneAtFullLoadKeepOnlyTheGrantorsSideCallingTheHubAndEveryJobFinishesAfterEachMerge()
            throws Exception {
        int jobs = 2_000;
        try (NetNamespace ns = NetNamespace.create("spl");
             HubProcess hub = hub("0.0.0.0");
             Jedis j = redis.server().newJedis()) {
            int redisPort = URI.create(redis.url()).getPort();
            Map<String, String> env = env("redis://127.0.0.1:" + redisPort, "http://127.0.0.1:" + hub.port());
            FleetNodes.Placement cutOff = new FleetNodes.Placement(ns.nsIp(), ns.wrapper(),
                    Map.of("SLUICE_REDIS_URL", "redis://" + ns.hostIp() + ":" + redisPort,
                            "SLUICE_HUB_BASE_URL", "http://" + ns.hostIp() + ":" + hub.port()));
            try (FleetNodes fleet = FleetNodes.start("split", List.of(cutOff, FleetNodes.Placement.at(ns.hostIp())),
                    env, Duration.ofSeconds(90))) {
                // Idle and settled: both nodes may take new capacity, none is held.
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> fleet.nodes()
                        .stream().allMatch(n -> n.status().path("cluster").path("limits").path("mayGrant").asText()
                                .equals("yes")));
                assertThat(j.xlen(STREAM)).as("jobs in the stream before the idle cut").isZero();
                assertThat(fleet.nodes()).as("permits held at the idle cut").allMatch(n ->
                        n.status().path("cluster").path("limits").path("heldHere").asInt(-1) == 0);
                assertThat(hub.stats().totalRequests()).as("Hub requests before the idle cut").isZero();

                Cut idle = cut(ns, fleet, hub, j, () -> enqueue(j, 0, jobs));

                // Both nodes call the Hub again after the merge: the second cut comes at full load.
                long first = hubCalls(fleet.node(idle.other()));
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                        .failFast("a node process exited", () -> !allAlive(fleet))
                        .until(() -> hubCalls(fleet.node(idle.other())) > first + 20);
                long backlog = j.xlen(STREAM);
                assertThat(backlog).as("jobs waiting at the cut at full load").isGreaterThan(800);
                Cut loaded = cut(ns, fleet, hub, j, () -> { });

                HubStats all = awaitAllDoneWithinLimits(hub, j, jobs, fleet);
                System.out.printf("FleetSplitTest: %s is the namespaced node; idle cut: %s; cut at full load (%d jobs "
                                + "waiting): %s; Hub: %d requests, at most %d in a sliding second, at most %d in flight, "
                                + "violations %s, statuses %s%n",
                        fleet.nodes().get(0).id(), idle.describe(), backlog, loaded.describe(), all.totalRequests(),
                        all.maxWindowRequests(), all.maxInFlight(), all.violations(), all.byStatus());
                for (Cut c : List.of(idle, loaded)) {
                    assertThat(c.recoveredAfter()).as("seconds from the cut until the grantor's side ran at 90%% of "
                            + "the limit").isBetween(0.0, 20.0);
                    assertThat(c.otherCallsAtHeal()).as("Hub calls of %s (no grantor lease) from a lease after the cut "
                            + "to the heal", c.other()).isEqualTo(c.otherCallsALeaseOn());
                    assertThat(c.holderCallsDuringCut()).as("Hub calls of the grantor %s during the cut", c.holder())
                            .isPositive();
                }
                assertWithinLimits(all, jobs);
                assertThat(fleet.nodes()).as("node processes alive").allMatch(n -> n.process().isAlive());
            }
        }
    }

    /**
     * Drops the Hazelcast traffic between the two nodes, runs {@code atCut}, and heals once the grantor's side ran at
     * 90% of the limit and 10 s passed (the cut's length: part of the scenario); returns once the two see each other
     * again.
     */
    private static Cut cut(NetNamespace ns, FleetNodes fleet, HubProcess hub, Jedis j, Runnable atCut)
            throws Exception {
        String holder = grantorNode(j);
        FleetNodes.Node h = fleet.node(holder);
        FleetNodes.Node other = otherThan(fleet, holder);
        long otherCallsAtCut = hubCalls(other);
        long holderCallsAtCut = hubCalls(h);
        ns.dropTcpPorts(memberPorts(fleet));
        long cutAt = System.nanoTime();
        double otherLastCallAt;
        long otherCallsALeaseOn;
        double recoveredAfter;
        long otherCallsAtHeal;
        long holderCallsDuringCut;
        try {
            atCut.run();
            // The node without the lease may send what it held for up to a lease; only noted.
            otherLastCallAt = lastChange(cutAt, otherCallsAtCut, () -> hubCalls(other), () -> allAlive(fleet));
            otherCallsALeaseOn = hubCalls(other);
            // All counted after that lease: the Hub's calls are the grantor's side's.
            recoveredAfter = awaitRecovery(hub, cutAt, Duration.ofSeconds(20),
                    () -> seconds(cutAt) >= LEASE_MS / 1000.0);
            holdUntil(cutAt, 10, () -> hubCalls(other) == otherCallsALeaseOn && allAlive(fleet));
            otherCallsAtHeal = hubCalls(other);
            holderCallsDuringCut = hubCalls(h) - holderCallsAtCut;
            assertThat(fleet.nodes()).as("members each node sees during the cut").allMatch(n -> n.clusterMembers() == 1);
            assertThat(grantorNode(j)).as("the grantor during the cut").isEqualTo(holder);
        } finally {
            ns.heal();
        }
        double healedAfter = seconds(cutAt);
        long healedAt = System.nanoTime();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .failFast("a node process exited", () -> !allAlive(fleet))
                .until(() -> fleet.nodes().stream().allMatch(n -> n.clusterMembers() == 2));
        return new Cut(holder, other.id(), otherCallsAtCut, otherLastCallAt, otherCallsALeaseOn, otherCallsAtHeal,
                holderCallsDuringCut, recoveredAfter, healedAfter, seconds(healedAt));
    }
}
