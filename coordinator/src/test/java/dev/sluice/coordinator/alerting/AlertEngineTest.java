package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.coordinator.state.ClusterSnapshot;
import org.junit.jupiter.api.Test;

import java.time.Duration;
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
