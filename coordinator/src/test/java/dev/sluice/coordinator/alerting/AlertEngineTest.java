package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.NodeView;
import dev.sluice.coordinator.state.Rejection;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.sluice.coordinator.alerting.AlertState.FIRING;
import static dev.sluice.coordinator.alerting.AlertState.INACTIVE;
import static dev.sluice.coordinator.alerting.AlertState.PENDING;
import static dev.sluice.coordinator.alerting.AlertState.RESOLVED;
import static org.assertj.core.api.Assertions.assertThat;

class AlertEngineTest {

    /** A rule that finds the same instance twice on every evaluation, with its labels in another order. */
    private record Twice(AlertsConfig.Rule settings) implements AlertRule {
        @Override
        public String alertname() {
            return "Twice";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            return List.of(new Condition(Map.of("a", "1", "b", "2"), null, 1, "s", "d"),
                    new Condition(Map.of("b", "2", "a", "1"), null, 1, "s", "d"));
        }
    }

    /** Finds every live node; throws on node "bad" while {@link #failing}. */
    private static final class FailsOnOneNode implements NodeRule {
        volatile boolean failing;

        @Override
        public AlertsConfig.Rule settings() {
            return new AlertsConfig.Rule("per_node", 0, 0, "info", Map.of());
        }

        @Override
        public String alertname() {
            return "PerNode";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster, NodeView node) {
            if (failing && node.id().equals("bad")) {
                throw new ArithmeticException("long overflow");
            }
            return List.of(new Condition(Map.of("node", node.id()), null, 1, "s", "d"));
        }
    }

    /** Finds one cluster-wide instance; throws while {@link #failing}. */
    private static final class FailsWhole implements AlertRule {
        volatile boolean failing;

        @Override
        public AlertsConfig.Rule settings() {
            return new AlertsConfig.Rule("whole", 0, 0, "info", Map.of());
        }

        @Override
        public String alertname() {
            return "Whole";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            if (failing) {
                throw new IllegalStateException("no such node");
            }
            return List.of(new Condition(Map.of(), null, 1, "s", "d"));
        }
    }

    @Test
    void evaluationGoesOnWhenARuleThrowsForOneNodeOrAsAWholeAndItsAlertsThereAreHeld() {
        FailsOnOneNode perNode = new FailsOnOneNode();
        FailsWhole whole = new FailsWhole();
        EngineHarness h = EngineHarness.withRules("pool_usage_for_secs = 0\n", perNode, whole);
        TestEvents good = new TestEvents("good").pool(19, 20);
        TestEvents bad = new TestEvents("bad").pool(19, 20);
        h.run(5, good, bad);
        assertThat(h.alerts("per_node", FIRING)).hasSize(2);
        assertThat(h.alerts("whole", FIRING)).hasSize(1);

        perNode.failing = true;
        whole.failing = true;
        h.run(30, good, bad);
        // The failing rules' alerts are held, neither resolved nor dropped; every other rule, and the failing node
        // rule on the other node, go on.
        assertThat(h.alerts("per_node", FIRING)).extracting(a -> a.labels().get("node"))
                .containsExactlyInAnyOrder("good", "bad");
        assertThat(h.alerts("whole", FIRING)).hasSize(1);
        assertThat(h.transitionsOf("per_node")).extracting(AlertTransition::to).containsOnly(FIRING);
        assertThat(h.transitionsOf("whole")).extracting(AlertTransition::to).containsOnly(FIRING);
        assertThat(h.alerts(AlertsConfig.POOL_USAGE, FIRING)).hasSize(2);
        assertThat(h.engine.failuresByRule()).containsEntry("per_node", 6L).containsEntry("whole", 6L)
                .containsEntry(AlertsConfig.POOL_USAGE, 0L);

        // Still evaluating: the good node's pool recovers and its alert resolves while the rules still throw; a
        // node that goes down is called down.
        good.pool(1, 20);
        h.run(5, good, bad);
        assertThat(h.alerts(AlertsConfig.POOL_USAGE, RESOLVED)).extracting(a -> a.labels().get("node"))
                .containsExactly("good");
        h.run(20, good);
        assertThat(h.alerts(AlertsConfig.NODE_DOWN, FIRING)).extracting(a -> a.labels().get("node"))
                .containsExactly("bad");
        // A node the rule no longer judges (it is down) has nothing held: its alert of the rule resolves.
        assertThat(h.alerts("per_node", RESOLVED)).extracting(a -> a.labels().get("node")).containsExactly("bad");

        // Working again, the rules take over their held alerts as they are.
        perNode.failing = false;
        whole.failing = false;
        h.run(5, good);
        assertThat(h.alerts("per_node", FIRING)).extracting(a -> a.labels().get("node")).containsExactly("good");
        assertThat(h.alerts("whole", FIRING)).hasSize(1);
        assertThat(h.transitionsOf("whole")).extracting(AlertTransition::to).containsExactly(FIRING);
    }

    @Test
    void aListenerThatThrowsDoesNotKeepTheOthersFromHearing() {
        EngineHarness h = new EngineHarness("");
        AlertEngine engine = new AlertEngine(Rules.defaults(h.config), h.config.breakerInhibits(), Duration.ofMinutes(15));
        List<AlertTransition> heard = new ArrayList<>();
        engine.addListener(batch -> {
            throw new IllegalStateException("listener down");
        });
        engine.addListener(heard::addAll);
        h.clock.advanceSeconds(5);
        h.apply(new TestEvents("n1").heartbeat(h.clock.millis()));

        engine.evaluate(h.state.snapshot(h.clock.instant()));
        engine.evaluate(h.state.snapshot(h.clock.instant().plusSeconds(1)));

        assertThat(heard).extracting(t -> t.alert().rule()).containsExactly(AlertsConfig.WATCHDOG);
    }

    @Test
    void aHeartbeatWithAnAbsurdIntervalDoesNotKeepANodeFromBeingCalledDown() {
        // Regression: such a heartbeat kept the node alive forever, and every evaluation after it failed on an
        // overflow, so no alert of any node fired or resolved any more.
        EngineHarness h = new EngineHarness("");
        TestEvents liar = new TestEvents("liar");
        TestEvents n2 = new TestEvents("n2").pool(19, 20);
        h.run(5, liar, n2);
        assertThat(h.state.apply(liar.intervalMs(Long.MAX_VALUE).heartbeat(h.clock.millis()), h.clock.instant()))
                .get().extracting(Rejection::reason).isEqualTo(Rejection.HEARTBEAT_INTERVAL);

        h.run(60, n2);
        assertThat(h.alerts(AlertsConfig.NODE_DOWN, FIRING)).extracting(a -> a.labels().get("node"))
                .containsExactly("liar");
        assertThat(h.alerts(AlertsConfig.POOL_USAGE, FIRING)).extracting(a -> a.labels().get("node"))
                .containsExactly("n2");
    }

    @Test
    void anInstanceFoundTwiceOrAgainIsOneAlertWithOneFingerprint() {
        EngineHarness h = EngineHarness.withRules("", new Twice(new AlertsConfig.Rule("twice", 0, 10, "info", Map.of())));
        for (int i = 0; i < 5; i++) {
            h.evaluate();
            h.clock.advanceSeconds(5);
        }

        assertThat(h.engine.active()).filteredOn(a -> a.rule().equals("twice")).singleElement()
                .satisfies(a -> assertThat(a.state()).isEqualTo(FIRING));
        assertThat(h.transitionsOf("twice")).extracting(AlertTransition::to).containsExactly(PENDING, FIRING);
        assertThat(Fingerprint.of("twice", Map.of("a", "1", "b", "2")))
                .isEqualTo(Fingerprint.of("twice", Map.of("b", "2", "a", "1")))
                .isNotEqualTo(Fingerprint.of("other", Map.of("a", "1", "b", "2")))
                .isNotEqualTo(Fingerprint.of("twice", Map.of("a", "1", "b", "3")));
    }

    @Test
    void aPendingAlertWhoseConditionClearsBeforeItsForDurationGoesAwayWithoutFiring() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1").pool(19, 20);
        h.run(30, n1);
        assertThat(h.alerts(AlertsConfig.POOL_USAGE, PENDING)).hasSize(1);

        n1.pool(5, 20);
        h.run(5, n1);
        assertThat(h.engine.active()).noneMatch(a -> a.rule().equals(AlertsConfig.POOL_USAGE));
        assertThat(h.engine.recentlyResolved()).isEmpty();
        assertThat(h.transitionsOf(AlertsConfig.POOL_USAGE)).extracting(AlertTransition::to)
                .containsExactly(PENDING, INACTIVE);
    }

    @Test
    void anOpenBreakerInhibitsTheHubErrorAndConnectionTimeoutAlertsItExplains() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "CLOSED", "OPEN"));
        // Every Hub call times out: a 100% Hub error rate and 8% connection timeouts, both explained by the breaker.
        h.runWithWork(30, n -> n.work(0, 900, 100).hubTimeouts(80), n1);

        assertThat(h.engine.active()).noneMatch(a -> a.rule().equals(AlertsConfig.HUB_ERROR_RATE)
                || a.rule().equals(AlertsConfig.CONNECTION_TIMEOUT_RATE));
        assertThat(h.engine.inhibitions())
                .containsOnlyKeys(AlertsConfig.HUB_ERROR_RATE, AlertsConfig.CONNECTION_TIMEOUT_RATE)
                .containsValue("breaker hub is OPEN on n1");
        assertThat(h.alerts(AlertsConfig.BREAKER_NOT_CLOSED, PENDING)).hasSize(1);

        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "OPEN", "CLOSED"));
        h.runWithWork(5, n -> n.work(0, 900, 100).hubTimeouts(80), n1);
        assertThat(h.engine.inhibitions()).isEmpty();
        assertThat(h.alerts(AlertsConfig.HUB_ERROR_RATE, FIRING)).hasSize(1);
        assertThat(h.alerts(AlertsConfig.CONNECTION_TIMEOUT_RATE, FIRING)).hasSize(1);
    }

    @Test
    void aFiringAlertIsHeldWhileInhibitedAndJudgedAgainWhenTheBreakerCloses() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(0, 0, 100).hubErrors(50), n1);
        Alert firing = h.only(AlertsConfig.HUB_ERROR_RATE, FIRING);

        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "CLOSED", "OPEN"));
        h.runWithWork(120, n -> n.work(0, 0, 100), n1);
        assertThat(h.only(AlertsConfig.HUB_ERROR_RATE, FIRING).startsAt()).isEqualTo(firing.startsAt());

        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "OPEN", "CLOSED"));
        h.runWithWork(5, n -> n.work(0, 0, 100), n1);
        assertThat(h.alerts(AlertsConfig.HUB_ERROR_RATE, RESOLVED)).hasSize(1);
    }

    @Test
    void inhibitionFollowsTheConfiguredRules() {
        EngineHarness h = new EngineHarness("breaker_inhibits = []\n");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "CLOSED", "OPEN"));
        h.runWithWork(5, n -> n.work(0, 900, 100).hubTimeouts(80), n1);

        assertThat(h.engine.inhibitions()).isEmpty();
        assertThat(h.alerts(AlertsConfig.HUB_ERROR_RATE, FIRING)).hasSize(1);
    }

    @Test
    void aCounterRestartCountsTheNewValuesInsteadOfANegativeDelta() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1").work(0, 1_000_000, 100_000);
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(100, 900, 100), n1);
        assertThat(h.alerts(AlertsConfig.CONNECTION_TIMEOUT_RATE, FIRING)).isEmpty();

        // The node restarts; its counters start again, and its first seconds are bad: 15% connection timeouts. The
        // naive delta (new minus old) would be about minus a million operations and hide it.
        n1.resetCounters().work(100, 900, 100).connectionTimeouts(150);
        h.run(5, n1);

        Alert firing = h.only(AlertsConfig.CONNECTION_TIMEOUT_RATE, FIRING);
        assertThat(firing.value()).isEqualTo(150.0 / 2_000);
        assertThat(h.state.snapshot(h.clock.instant()).node("n1").orElseThrow().restarts()).isEqualTo(1);
        assertThat(h.state.snapshot(h.clock.instant()).totals(Duration.ofMinutes(1)).redisOperations()).isEqualTo(1_800);
    }

    @Test
    void restoredFiringAlertsStayFiringWithoutANewTransitionAndResolvedOnesAreNotResurrected() {
        // An earlier coordinator: n1's pool fired and n2's pool fired and resolved.
        EngineHarness before = new EngineHarness("pool_usage_for_secs = 10\n");
        TestEvents n1 = new TestEvents("n1").pool(19, 20);
        TestEvents n2 = new TestEvents("n2").pool(19, 20);
        before.run(15, n1, n2);
        n2.pool(1, 20);
        before.run(5, n1, n2);
        Alert n1Firing = before.only(AlertsConfig.POOL_USAGE, FIRING);
        Alert n2Resolved = before.only(AlertsConfig.POOL_USAGE, RESOLVED);
        List<Alert> saved = List.of(n1Firing, n2Resolved);

        // A new coordinator whose rebuilt state still shows n1's pool high and n2's low.
        EngineHarness after = new EngineHarness("pool_usage_for_secs = 10\n");
        after.clock.advance(Duration.between(after.clock.instant(), before.clock.instant()));
        after.engine.restore(saved, after.clock.instant());
        after.run(30, n1, n2);

        assertThat(after.transitionsOf(AlertsConfig.POOL_USAGE)).isEmpty();
        assertThat(after.only(AlertsConfig.POOL_USAGE, FIRING).startsAt()).isEqualTo(n1Firing.startsAt());
        assertThat(after.only(AlertsConfig.POOL_USAGE, RESOLVED).endsAt()).isEqualTo(n2Resolved.endsAt());

        n1.pool(1, 20);
        after.run(5, n1, n2);
        assertThat(after.transitionsOf(AlertsConfig.POOL_USAGE)).singleElement()
                .satisfies(t -> assertThat(t.to()).isEqualTo(RESOLVED));
    }

    @Test
    void resolvedAlertsAreForgottenAfterTheirRetention() {
        EngineHarness h = new EngineHarness("pool_usage_for_secs = 0\n");
        TestEvents n1 = new TestEvents("n1").pool(19, 20);
        h.run(5, n1);
        n1.pool(1, 20);
        h.run(5, n1);
        Alert resolved = h.only(AlertsConfig.POOL_USAGE, RESOLVED);

        h.run(895, n1);
        assertThat(h.expired).isEmpty();
        h.run(5, n1);
        assertThat(h.expired).singleElement().extracting(Alert::fingerprint).isEqualTo(resolved.fingerprint());
        assertThat(h.engine.recentlyResolved()).isEmpty();

        // Restored resolved alerts already past their retention are forgotten at once.
        h.engine.restore(List.of(resolved), h.clock.instant());
        assertThat(h.expired).hasSize(2);
    }
}
