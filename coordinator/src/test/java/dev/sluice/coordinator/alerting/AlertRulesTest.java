package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.coordinator.TestEvents;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static dev.sluice.coordinator.alerting.AlertState.FIRING;
import static dev.sluice.coordinator.alerting.AlertState.PENDING;
import static dev.sluice.coordinator.alerting.AlertState.RESOLVED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every rule fires after its for-duration and resolves when its cause goes away, on a fake clock. Nodes send a
 * heartbeat every 5 s unless a test says otherwise.
 */
class AlertRulesTest {

    @Test
    void poolUsageAboveEightyPercentFiresAfterOneMinutePerNodeAndResolvesWhenItDrops() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1").pool(18, 20);
        TestEvents n2 = new TestEvents("n2").pool(16, 20); // exactly 80%: not above
        h.apply(n1.started(h.clock.millis()));
        h.apply(n1.heartbeat(h.clock.millis()));
        h.apply(n2.heartbeat(h.clock.millis()));
        Instant began = h.clock.instant();
        h.evaluate();

        assertThat(h.only(AlertsConfig.POOL_USAGE, PENDING).activeAt()).isEqualTo(began);
        h.run(55, n1, n2);
        assertThat(h.alerts(AlertsConfig.POOL_USAGE, FIRING)).isEmpty();

        h.run(5, n1, n2);
        Alert firing = h.only(AlertsConfig.POOL_USAGE, FIRING);
        assertThat(firing.startsAt()).isEqualTo(began.plusSeconds(60));
        assertThat(firing.labels()).containsEntry("alertname", "SluicePoolUsageHigh")
                .containsEntry("severity", "warning").containsEntry("node", "n1");
        assertThat(firing.annotations().get("summary")).contains("90.0%", "n1");

        n1.pool(10, 20);
        h.run(5, n1, n2);
        Alert resolved = h.only(AlertsConfig.POOL_USAGE, RESOLVED);
        assertThat(resolved.fingerprint()).isEqualTo(firing.fingerprint());
        assertThat(resolved.startsAt()).isEqualTo(firing.startsAt());
        assertThat(resolved.endsAt()).isEqualTo(began.plusSeconds(65));
        assertThat(h.transitionsOf(AlertsConfig.POOL_USAGE)).extracting(AlertTransition::to)
                .containsExactly(PENDING, FIRING, RESOLVED);
    }

    @Test
    void breakerNotClosedFiresAfterFiveMinutesEvenWhileCyclingAndResolvesWhenItCloses() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        h.apply(n1.heartbeat(h.clock.millis()));
        Instant opened = h.clock.instant();
        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "CLOSED", "OPEN"));
        h.run(30, n1);
        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "OPEN", "HALF_OPEN"));
        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "HALF_OPEN", "OPEN"));
        h.run(265, n1);

        Alert pending = h.only(AlertsConfig.BREAKER_NOT_CLOSED, PENDING);
        assertThat(pending.activeAt()).isEqualTo(opened);
        assertThat(pending.labels()).containsEntry("breaker", "hub").containsEntry("node", "n1")
                .containsEntry("severity", "critical");

        h.run(5, n1);
        assertThat(h.only(AlertsConfig.BREAKER_NOT_CLOSED, FIRING).startsAt()).isEqualTo(opened.plusSeconds(300));

        h.apply(n1.breakerTransition(h.clock.millis(), "hub", "OPEN", "CLOSED"));
        h.evaluate();
        assertThat(h.only(AlertsConfig.BREAKER_NOT_CLOSED, RESOLVED).endsAt()).isEqualTo(opened.plusSeconds(300));
    }

    @Test
    void connectionTimeoutRateAboveFivePercentFiresAfterItsForDurationAndResolves() {
        EngineHarness h = new EngineHarness("connection_timeout_rate_for_secs = 30\n");
        TestEvents n1 = new TestEvents("n1");
        TestEvents n2 = new TestEvents("n2");
        h.run(5, n1, n2);
        // Each node, every 5 s: 900 Redis operations and 100 Hub requests, 30 of them timing out: 3% per node...
        h.runWithWork(5, n -> n.work(100, 900, 100).connectionTimeouts(30), n1, n2);
        assertThat(h.alerts(AlertsConfig.CONNECTION_TIMEOUT_RATE, PENDING)).isEmpty();
        // ...then 90 of them: the cluster-wide rate over the last minute passes 5%.
        h.runWithWork(5, n -> n.work(100, 900, 100).connectionTimeouts(90), n1, n2);
        Alert pending = h.only(AlertsConfig.CONNECTION_TIMEOUT_RATE, PENDING);
        assertThat(pending.value()).isEqualTo(240.0 / 4000);
        assertThat(pending.labels()).doesNotContainKey("node");

        h.runWithWork(25, n -> n.work(100, 900, 100).connectionTimeouts(90), n1, n2);
        assertThat(h.alerts(AlertsConfig.CONNECTION_TIMEOUT_RATE, FIRING)).isEmpty();
        h.runWithWork(5, n -> n.work(100, 900, 100).connectionTimeouts(90), n1, n2);
        assertThat(h.only(AlertsConfig.CONNECTION_TIMEOUT_RATE, FIRING).annotations().get("description"))
                .contains("connection timeouts");

        h.runWithWork(60, n -> n.work(100, 900, 100), n1, n2);
        assertThat(h.alerts(AlertsConfig.CONNECTION_TIMEOUT_RATE, RESOLVED)).hasSize(1);
        assertThat(h.engine.active()).noneMatch(a -> a.rule().equals(AlertsConfig.CONNECTION_TIMEOUT_RATE));
    }

    @Test
    void redisErrorRateAboveOnePercentFiresAndResolves() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(100, 1_000, 100).redisErrors(5), n1);
        assertThat(h.alerts(AlertsConfig.REDIS_ERROR_RATE, FIRING)).isEmpty();

        h.runWithWork(5, n -> n.work(100, 1_000, 100).redisErrors(30), n1);
        Alert firing = h.only(AlertsConfig.REDIS_ERROR_RATE, FIRING);
        assertThat(firing.value()).isEqualTo(35.0 / 2_000);
        assertThat(firing.labels()).containsEntry("alertname", "SluiceRedisErrorRateHigh");

        h.runWithWork(60, n -> n.work(100, 1_000, 100), n1);
        assertThat(h.alerts(AlertsConfig.REDIS_ERROR_RATE, RESOLVED)).hasSize(1);
    }

    @Test
    void hubErrorRateFiresAndResolves() {
        EngineHarness h = new EngineHarness("hub_error_rate_for_secs = 10\n");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(100, 100, 100).hubErrors(10), n1);
        assertThat(h.only(AlertsConfig.HUB_ERROR_RATE, PENDING).value()).isEqualTo(0.1);
        h.runWithWork(10, n -> n.work(100, 100, 100).hubErrors(10), n1);
        assertThat(h.only(AlertsConfig.HUB_ERROR_RATE, FIRING).labels())
                .containsEntry("alertname", "SluiceHubErrorRateHigh");

        h.runWithWork(60, n -> n.work(100, 100, 100), n1);
        assertThat(h.alerts(AlertsConfig.HUB_ERROR_RATE, RESOLVED)).hasSize(1);
    }

    @Test
    void hub429RateFiresAndResolves() {
        EngineHarness h = new EngineHarness("hub_rate_limited_threshold = 0.02\n");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(100, 100, 100).hubRateLimited(2), n1);
        assertThat(h.alerts(AlertsConfig.HUB_RATE_LIMITED, FIRING)).isEmpty();
        h.runWithWork(5, n -> n.work(100, 100, 100).hubRateLimited(6), n1);
        assertThat(h.only(AlertsConfig.HUB_RATE_LIMITED, FIRING).value()).isEqualTo(8.0 / 200);

        h.runWithWork(60, n -> n.work(100, 100, 100), n1);
        assertThat(h.alerts(AlertsConfig.HUB_RATE_LIMITED, RESOLVED)).hasSize(1);
    }

    @Test
    void rateRulesStayQuietBelowTheMinimumNumberOfOperations() {
        EngineHarness h = new EngineHarness("rate_min_operations = 50\n");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        h.runWithWork(5, n -> n.work(5, 20, 20).connectionTimeouts(10).redisErrors(10).hubErrors(10), n1);

        assertThat(h.engine.active()).allMatch(a -> a.rule().equals(AlertsConfig.WATCHDOG));
    }

    @Test
    void nodeDownFiresAfterMissedHeartbeatsNotAfterAGracefulStopAndResolvesWhenItReturns() {
        EngineHarness h = new EngineHarness("node_down_for_secs = 10\n");
        TestEvents n1 = new TestEvents("n1");
        TestEvents n2 = new TestEvents("n2");
        h.apply(n1.started(h.clock.millis()));
        h.apply(n2.started(h.clock.millis()));
        Instant lastSeen = h.clock.instant();
        h.apply(n2.stopping(h.clock.millis()));

        h.clock.advanceSeconds(15);
        h.evaluate();
        assertThat(h.alerts(AlertsConfig.NODE_DOWN, PENDING)).isEmpty();
        h.clock.advanceSeconds(1);
        h.evaluate();
        Alert pending = h.only(AlertsConfig.NODE_DOWN, PENDING);
        assertThat(pending.activeAt()).isEqualTo(lastSeen.plusSeconds(15));
        assertThat(pending.labels()).containsEntry("node", "n1").containsEntry("severity", "critical");

        h.clock.advanceSeconds(8);
        h.evaluate();
        assertThat(h.alerts(AlertsConfig.NODE_DOWN, FIRING)).isEmpty();
        h.clock.advanceSeconds(1);
        h.evaluate();
        assertThat(h.only(AlertsConfig.NODE_DOWN, FIRING).startsAt()).isEqualTo(lastSeen.plusSeconds(25));

        h.apply(n1.heartbeat(h.clock.millis()));
        h.evaluate();
        assertThat(h.alerts(AlertsConfig.NODE_DOWN, RESOLVED)).hasSize(1);
        assertThat(h.transitionsOf(AlertsConfig.NODE_DOWN)).noneMatch(t -> "n2".equals(t.alert().labels().get("node")));
    }

    @Test
    void backlogNotDrainingFiresOnceTheOldestJobHasBeenTooOldForTheForDurationAndResolves() {
        EngineHarness h = new EngineHarness("backlog_not_draining_age_secs = 600\nbacklog_not_draining_for_secs = 60\n");
        TestEvents n1 = new TestEvents("n1").oldestWaitingMs(630_000);
        h.apply(n1.heartbeat(h.clock.millis()));
        h.evaluate();
        // The oldest job crossed 600 s thirty seconds before this sample.
        Alert pending = h.only(AlertsConfig.BACKLOG_NOT_DRAINING, PENDING);
        assertThat(pending.activeAt()).isEqualTo(h.clock.instant().minusSeconds(30));
        Instant crossed = pending.activeAt();

        n1.oldestWaitingMs(655_000);
        h.run(25, n1);
        assertThat(h.alerts(AlertsConfig.BACKLOG_NOT_DRAINING, FIRING)).isEmpty();
        n1.oldestWaitingMs(660_000);
        h.run(5, n1);
        assertThat(h.only(AlertsConfig.BACKLOG_NOT_DRAINING, FIRING).startsAt()).isEqualTo(crossed.plusSeconds(60));

        n1.oldestWaitingMs(2_000);
        h.run(5, n1);
        assertThat(h.alerts(AlertsConfig.BACKLOG_NOT_DRAINING, RESOLVED)).hasSize(1);
    }

    @Test
    void deadLetterGrowthAboveTheThresholdWithinTheWindowFiresAndResolvesAsTheWindowMovesOn() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        TestEvents n2 = new TestEvents("n2");
        h.run(5, n1, n2);
        n1.deadLettered(6);
        h.run(5, n1, n2);
        assertThat(h.alerts(AlertsConfig.DEAD_LETTER_GROWTH, FIRING)).isEmpty();
        Instant first = h.clock.instant();
        n2.deadLettered(5);
        h.run(5, n1, n2);
        assertThat(h.only(AlertsConfig.DEAD_LETTER_GROWTH, FIRING).value()).isEqualTo(11);

        h.run(290, n1, n2);
        assertThat(h.alerts(AlertsConfig.DEAD_LETTER_GROWTH, RESOLVED)).isEmpty();
        h.run(5, n1, n2);
        assertThat(h.only(AlertsConfig.DEAD_LETTER_GROWTH, RESOLVED).endsAt()).isEqualTo(first.plusSeconds(300));
    }

    @Test
    void limiterDegradedFiresAfterItsForDurationAndResolvesWhenTheLimiterRecovers() {
        EngineHarness h = new EngineHarness("");
        TestEvents n1 = new TestEvents("n1");
        h.run(5, n1);
        Instant degraded = h.clock.instant();
        h.apply(n1.limiterState(h.clock.millis(), true));
        h.evaluate();
        assertThat(h.only(AlertsConfig.LIMITER_DEGRADED, PENDING).activeAt()).isEqualTo(degraded);

        h.run(25, n1);
        assertThat(h.alerts(AlertsConfig.LIMITER_DEGRADED, FIRING)).isEmpty();
        h.run(5, n1);
        Alert firing = h.only(AlertsConfig.LIMITER_DEGRADED, FIRING);
        assertThat(firing.annotations().get("description")).contains("no majority", "fail-closed");

        h.apply(n1.limiterState(h.clock.millis(), false));
        h.evaluate();
        assertThat(h.alerts(AlertsConfig.LIMITER_DEGRADED, RESOLVED)).hasSize(1);
    }

    @Test
    void watchdogFiresAtTheFirstEvaluationAndNeverResolves() {
        EngineHarness h = new EngineHarness("watchdog_labels = { team = \"sre\" }\n");
        h.evaluate();
        Alert watchdog = h.only(AlertsConfig.WATCHDOG, FIRING);
        assertThat(watchdog.labels()).containsEntry("alertname", "SluiceWatchdog").containsEntry("severity", "none")
                .containsEntry("team", "sre");

        h.run(3_600);
        assertThat(h.only(AlertsConfig.WATCHDOG, FIRING).startsAt()).isEqualTo(watchdog.startsAt());
        assertThat(h.transitionsOf(AlertsConfig.WATCHDOG)).hasSize(1);
    }

    @Test
    void configuredSeverityAndLabelsReachTheAlert() {
        EngineHarness h = new EngineHarness("""
                pool_usage_threshold = 0.5
                pool_usage_for_secs = 0
                pool_usage_severity = "critical"
                pool_usage_labels = { team = "platform", page = "yes" }
                """);
        h.apply(new TestEvents("n1").pool(11, 20).heartbeat(h.clock.millis()));
        h.evaluate();

        assertThat(h.only(AlertsConfig.POOL_USAGE, FIRING).labels())
                .containsEntry("severity", "critical").containsEntry("team", "platform").containsEntry("page", "yes");
    }
}
