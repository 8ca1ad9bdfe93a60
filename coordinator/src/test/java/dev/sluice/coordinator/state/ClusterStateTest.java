package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;
import dev.sluice.coordinator.FakeClock;
import dev.sluice.coordinator.TestEvents;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

class ClusterStateTest {

    private final FakeClock clock = new FakeClock();
    private final ClusterState state = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
            Duration.ofMinutes(10), Duration.ofHours(1)));

    private void apply(Event event) {
        state.apply(event, clock.instant());
    }

    private ClusterSnapshot now() {
        return state.snapshot(clock.instant());
    }

    @Test
    void firstHeartbeatOfANodeAlreadyRunningOnlySetsTheBaseline() {
        TestEvents n1 = new TestEvents("n1").work(10_000, 50_000, 10_000).connectionTimeouts(900);
        apply(n1.heartbeat(0));

        assertThat(now().totals(Duration.ofMinutes(1))).isEqualTo(Counts.ZERO);

        clock.advanceSeconds(5);
        apply(n1.work(10, 100, 10).connectionTimeouts(1).heartbeat(0));
        Counts totals = now().totals(Duration.ofMinutes(1));
        assertThat(totals.jobsDone()).isEqualTo(10);
        assertThat(totals.redisOperations()).isEqualTo(100);
        assertThat(totals.connectionTimeouts()).isEqualTo(1);
    }

    @Test
    void deltasAfterANodeStartCountFromZero() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.started(0));
        clock.advanceSeconds(5);
        apply(n1.work(7, 30, 7).heartbeat(0));

        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(7);
    }

    @Test
    void aCounterLowerThanBeforeMeansARestartAndTheNewValueIsTheDelta() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.work(1_000, 5_000, 1_000).heartbeat(0));
        clock.advanceSeconds(5);
        apply(n1.work(100, 500, 100).heartbeat(0));
        clock.advanceSeconds(5);
        // Restarted, but neither a node-started event nor a lower sequence number tells: only the counters.
        n1.resetCounters();
        apply(n1.work(40, 200, 40).heartbeat(0));

        Counts totals = now().totals(Duration.ofMinutes(1));
        assertThat(totals.jobsDone()).isEqualTo(100 + 40);
        assertThat(totals.redisOperations()).isEqualTo(500 + 200);
        assertThat(now().node("n1").orElseThrow().restarts()).isEqualTo(1);
        assertThat(now().node("n1").orElseThrow().stopped()).isFalse();
    }

    @Test
    void aSequenceNumberGoingBackMeansARestart() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.work(1_000, 5_000, 1_000).heartbeat(0));
        clock.advanceSeconds(5);
        apply(n1.work(2_000, 5_000, 1_000).heartbeat(0));
        clock.advanceSeconds(5);
        // Restarted, and already past its old counters by the first heartbeat: only the sequence number tells.
        n1.restartProcess();
        apply(n1.work(5_000, 20_000, 5_000).heartbeat(0));

        assertThat(now().node("n1").orElseThrow().restarts()).isEqualTo(1);
        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(2_000 + 5_000);
    }

    @Test
    void deltasLeaveTheWindowAsTimePasses() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.heartbeat(0));
        clock.advanceSeconds(5);
        apply(n1.work(10, 10, 10).heartbeat(0));
        clock.advanceSeconds(30);
        apply(n1.work(20, 20, 20).heartbeat(0));

        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(30);
        clock.advanceSeconds(31);
        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(20);
        clock.advanceSeconds(30);
        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isZero();
    }

    @Test
    void aNodeIsDownAfterMissedHeartbeatsButNotAfterStoppingGracefully() {
        TestEvents n1 = new TestEvents("n1").intervalMs(1_000);
        TestEvents n2 = new TestEvents("n2").intervalMs(1_000);
        apply(n1.started(0));
        apply(n2.started(0));
        Instant lastSeen = clock.instant();
        apply(n2.stopping(0));

        clock.advanceSeconds(3);
        assertThat(now().node("n1").orElseThrow().alive()).isTrue();
        clock.advance(Duration.ofMillis(1));
        NodeView n1View = now().node("n1").orElseThrow();
        assertThat(n1View.alive()).isFalse();
        assertThat(n1View.downSince()).isEqualTo(lastSeen.plusSeconds(3));
        NodeView n2View = now().node("n2").orElseThrow();
        assertThat(n2View.alive()).isFalse();
        assertThat(n2View.stopped()).isTrue();
        assertThat(n2View.downSince()).isNull();
    }

    @Test
    void livenessAndWindowsAreJudgedAtTheTimeTheEventsAreReadUpTo() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.heartbeat(0));
        clock.advanceSeconds(5);
        apply(n1.work(10, 10, 10).heartbeat(0));
        Instant readUpTo = clock.instant();

        // The events stopped arriving (Kafka down): judged at the last time they were read, nothing changed.
        clock.advance(Duration.ofMinutes(5));
        ClusterSnapshot stalled = state.snapshot(clock.instant(), readUpTo);
        assertThat(stalled.at()).isEqualTo(clock.instant());
        assertThat(stalled.asOf()).isEqualTo(readUpTo);
        assertThat(stalled.node("n1").orElseThrow().alive()).isTrue();
        assertThat(stalled.totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(10);

        ClusterSnapshot current = state.snapshot(clock.instant());
        assertThat(current.node("n1").orElseThrow().alive()).isFalse();
        assertThat(current.totals(Duration.ofMinutes(1)).jobsDone()).isZero();
    }

    @Test
    void aNodeIsNotCalledDownWhenTheEventsFlowAgainAfterAGapBeforeItsOwnArrive() {
        // Regression: after a 30 s Kafka outage the coordinator's consumer was current again a second or two before
        // the nodes' producers had reconnected, and every node was called down (and resolved a moment later).
        TestEvents n1 = new TestEvents("n1").intervalMs(1_000);
        TestEvents gone = new TestEvents("gone").intervalMs(1_000);
        apply(gone.started(0));
        clock.advanceSeconds(10);
        apply(n1.started(0));
        Instant lastSeen = clock.instant();
        clock.advance(Duration.ofMillis(500));
        EventsGap gap = new EventsGap(clock.instant(), clock.instant().plusSeconds(30));
        clock.advanceSeconds(30);

        // Events current again: without the gap n1 would be 30 s past its 3 s allowance.
        assertThat(state.snapshot(clock.instant(), clock.instant()).node("n1").orElseThrow().alive()).isFalse();
        ClusterSnapshot after = state.snapshot(clock.instant(), clock.instant(), gap);
        NodeView n1View = after.node("n1").orElseThrow();
        assertThat(n1View.alive()).isTrue();
        // What was left of its allowance when the gap began (2.5 s), counted from its end.
        assertThat(n1View.downSince()).isEqualTo(gap.to().plus(Duration.ofMillis(2_500)));
        // A node that was already down before the gap stays down, since the same time.
        NodeView goneView = after.node("gone").orElseThrow();
        assertThat(goneView.alive()).isFalse();
        assertThat(goneView.downSince()).isEqualTo(lastSeen.minusSeconds(10).plusSeconds(3));

        clock.advance(Duration.ofMillis(2_501));
        assertThat(state.snapshot(clock.instant(), clock.instant(), gap).node("n1").orElseThrow().alive()).isFalse();
        // Heard from again: alive, and the gap no longer matters.
        apply(n1.heartbeat(0));
        clock.advanceSeconds(1);
        NodeView back = state.snapshot(clock.instant(), clock.instant(), gap).node("n1").orElseThrow();
        assertThat(back.alive()).isTrue();
        assertThat(back.downSince()).isEqualTo(clock.instant().minusSeconds(1).plusSeconds(3));
    }

    @Test
    void aStoppedNodeThatStartsAgainIsAliveAgain() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.started(0));
        apply(n1.stopping(0));
        assertThat(now().node("n1").orElseThrow().stopped()).isTrue();

        n1.restartProcess();
        apply(n1.started(0));
        NodeView view = now().node("n1").orElseThrow();
        assertThat(view.stopped()).isFalse();
        assertThat(view.alive()).isTrue();
        assertThat(view.restarts()).isEqualTo(1);
    }

    @Test
    void nodesSilentLongerThanTheForgetTimeAreDropped() {
        apply(new TestEvents("n1").started(0));
        clock.advance(Duration.ofHours(1));
        assertThat(now().nodes()).hasSize(1);
        clock.advanceSeconds(1);
        assertThat(now().nodes()).isEmpty();
    }

    @Test
    void breakerRemembersSinceWhenItIsNotClosedWhileItCycles() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.heartbeat(0));
        clock.advanceSeconds(1);
        Instant opened = clock.instant();
        apply(n1.breakerTransition(0, "hub", "CLOSED", "OPEN"));
        clock.advanceSeconds(30);
        apply(n1.breakerTransition(0, "hub", "OPEN", "HALF_OPEN"));
        clock.advanceSeconds(1);
        apply(n1.breakerTransition(0, "hub", "HALF_OPEN", "OPEN"));
        apply(n1.heartbeat(0));

        BreakerView hub = now().node("n1").orElseThrow().breakers().get("hub");
        assertThat(hub.state()).isEqualTo("OPEN");
        assertThat(hub.notClosedSince()).isEqualTo(opened);

        apply(n1.breakerTransition(0, "hub", "OPEN", "CLOSED"));
        assertThat(now().node("n1").orElseThrow().breakers().get("hub").notClosedSince()).isNull();
    }

    @Test
    void poolUsageAboveSinceFollowsTheRunOfHighSamples() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.pool(10, 20).heartbeat(0));
        clock.advanceSeconds(5);
        Instant high = clock.instant();
        apply(n1.pool(17, 20).heartbeat(0));
        clock.advanceSeconds(5);
        apply(n1.pool(19, 20).poolPressure(0, true));
        clock.advanceSeconds(5);
        apply(n1.pool(18, 20).heartbeat(0));

        NodeView view = now().node("n1").orElseThrow();
        assertThat(view.poolUsageAboveSince(0.8)).isEqualTo(high);
        assertThat(view.pool().underPressure()).isTrue();

        clock.advanceSeconds(5);
        apply(n1.pool(4, 20).poolPressure(0, false));
        assertThat(now().node("n1").orElseThrow().poolUsageAboveSince(0.8)).isNull();
    }

    @Test
    void limiterStateFromEventsAndHeartbeats() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.heartbeat(0));
        assertThat(now().node("n1").orElseThrow().limiter().degraded()).isFalse();

        clock.advanceSeconds(1);
        Instant degraded = clock.instant();
        apply(n1.limiterState(0, true));
        clock.advanceSeconds(5);
        apply(n1.heartbeat(0));
        LimiterView view = now().node("n1").orElseThrow().limiter();
        assertThat(view.degraded()).isTrue();
        assertThat(view.since()).isEqualTo(degraded);
        assertThat(view.reason()).isEqualTo("no majority");
        assertThat(view.policy()).isEqualTo("fail-closed");

        apply(n1.limiter("ok").heartbeat(0));
        assertThat(now().node("n1").orElseThrow().limiter().degraded()).isFalse();
    }

    @Test
    void aRememberedDownNodeStaysDownUntilItIsHeardFrom() {
        Instant downSince = clock.instant().minusSeconds(60);
        state.rememberDownNode("gone", downSince);
        NodeView view = now().node("gone").orElseThrow();
        assertThat(view.alive()).isFalse();
        assertThat(view.downSince()).isEqualTo(downSince);

        apply(new TestEvents("gone").heartbeat(0));
        assertThat(now().node("gone").orElseThrow().alive()).isTrue();
    }
}
