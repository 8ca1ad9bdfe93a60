package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.event.EventPayload.Counters;
import dev.sluice.common.event.EventPayload.Heartbeat;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.common.event.EventPayload.QueueSample;
import dev.sluice.coordinator.FakeClock;
import dev.sluice.coordinator.TestEvents;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class ClusterStateTest {

    private final FakeClock clock = new FakeClock();
    private final ClusterState state = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
            Duration.ofMinutes(10), Duration.ofHours(1)));

    private Optional<Rejection> apply(Event event) {
        return state.apply(event, clock.instant());
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
    private static Heartbeat heartbeat(long intervalMs, Counters counters, PoolSample pool, QueueSample queue) {
        return new Heartbeat(intervalMs, counters, pool, Map.of("hub", "CLOSED"), "ok", queue);
    }

    private static Counters counters(long jobsDone, long redisOperations) {
        return new Counters(jobsDone, Map.of(), 0, 0, 0, 0, 0, redisOperations, 0, 0, 0);
    }

    private static final PoolSample POOL = new PoolSample(20, 2, 18, 0, 0.5, 0.9);
    private static final QueueSample QUEUE = new QueueSample(1, 0, 0, 0, 1_000);

    @Test
    void aHeartbeatWithAnAbsurdIntervalIsRefusedAndDoesNotKeepTheNodeAlive() {
        // Regression: one heartbeat announcing Long.MAX_VALUE ms kept its node alive forever, and computing when it
        // would be down overflowed in every snapshot, which stopped every alert evaluation.
        TestEvents n1 = new TestEvents("n1").intervalMs(1_000);
        apply(n1.started(0));
        Instant lastSeen = clock.instant();
        for (long absurd : new long[] {Long.MAX_VALUE, 1_000_000_000_000_000L, 600_001, 99, -1, Long.MIN_VALUE}) {
            clock.advance(Duration.ofMillis(100));
            Optional<Rejection> refused = apply(n1.event(0, heartbeat(absurd, null, null, null)));
            assertThat(refused).get().extracting(Rejection::reason).isEqualTo(Rejection.HEARTBEAT_INTERVAL);
        }
        assertThat(apply(n1.event(0, new EventPayload.NodeStarted("stream", 1, 1, Long.MAX_VALUE)))).get()
                .extracting(Rejection::reason).isEqualTo(Rejection.HEARTBEAT_INTERVAL);

        // Refused events are no sign of life: down three of its own intervals after its last good event.
        clock.advance(Duration.between(clock.instant(), lastSeen.plusSeconds(3)).plusMillis(1));
        NodeView view = now().node("n1").orElseThrow();
        assertThat(view.alive()).isFalse();
        assertThat(view.heartbeatInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(view.downSince()).isEqualTo(lastSeen.plusSeconds(3));

        // A node first heard of through such a heartbeat is not tracked at all; the bounds themselves are accepted.
        assertThat(apply(new TestEvents("liar").event(0, heartbeat(Long.MAX_VALUE, null, null, null)))).isPresent();
        assertThat(now().node("liar")).isEmpty();
        assertThat(apply(new TestEvents("fast").event(0, heartbeat(100, null, null, null)))).isEmpty();
        assertThat(apply(new TestEvents("slow").event(0, heartbeat(600_000, null, null, null)))).isEmpty();
        assertThat(now().node("slow").orElseThrow().heartbeatInterval()).isEqualTo(Duration.ofMinutes(10));
    }

    @Test
    void eventsWithValuesNoNodeSendsAreRefusedWholeWithTheirReason() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.work(10, 100, 0).heartbeat(0));
        Map<String, Event> bogus = new LinkedHashMap<>();
        bogus.put(Rejection.COUNTERS, n1.event(0, heartbeat(5_000, counters(-1, 200), POOL, QUEUE)));
        bogus.put(Rejection.COUNTERS + " by kind", n1.event(0, heartbeat(5_000, new Counters(20, Map.of("hub-timeout",
                -5L), 0, 0, 0, 0, 0, 200, 0, 0, 0), POOL, QUEUE)));
        bogus.put(Rejection.POOL_SAMPLE + " NaN", n1.event(0, heartbeat(5_000, counters(20, 200),
                new PoolSample(20, 2, 18, 0, 0.5, Double.NaN), QUEUE)));
        bogus.put(Rejection.POOL_SAMPLE + " above 1", n1.event(0, heartbeat(5_000, counters(20, 200),
                new PoolSample(20, 2, 18, 0, 0.5, 1.5), QUEUE)));
        bogus.put(Rejection.POOL_SAMPLE + " infinite wait", n1.event(0, heartbeat(5_000, counters(20, 200),
                new PoolSample(20, 2, 18, 0, Double.POSITIVE_INFINITY, 0.9), QUEUE)));
        // A pool sample whose fields were all missing reads as zeros: a pool of no connections, 100% in use.
        bogus.put(Rejection.POOL_SAMPLE + " missing", n1.event(0, new EventPayload.PoolPressure(true,
                new PoolSample(0, 0, 0, 0, 0, 0))));
        bogus.put(Rejection.QUEUE_SAMPLE, n1.event(0, heartbeat(5_000, counters(20, 200), POOL,
                new QueueSample(1, 0, 0, 0, Long.MAX_VALUE))));
        bogus.put(Rejection.NAME, n1.event(0, new Heartbeat(5_000, counters(20, 200), POOL, Map.of("hub\n", "OPEN"),
                "ok", QUEUE)));
        bogus.put(Rejection.VALUE, n1.event(0, new EventPayload.BreakerTransition("hub", "CLOSED", "OPEN", Float.NaN, 1, 1)));
        bogus.put(Rejection.TIMESTAMP, n1.event(clock.instant().plus(Duration.ofDays(2)).toEpochMilli(),
                heartbeat(5_000, counters(20, 200), POOL, QUEUE)));
        bogus.put(Rejection.SEQUENCE, new Event(EventCodec.VERSION, "n1", 0, -1, heartbeat(5_000, counters(20, 200),
                POOL, QUEUE)));
        bogus.put(Rejection.NODE_ID, new TestEvents("x".repeat(10_000)).heartbeat(0));
        bogus.put(Rejection.NODE_ID + " control", new TestEvents("n\u0000\n2").heartbeat(0));
        bogus.put(Rejection.NODE_ID + " empty", new TestEvents("").heartbeat(0));

        for (Map.Entry<String, Event> e : bogus.entrySet()) {
            clock.advanceSeconds(1);
            assertThat(apply(e.getValue())).as(e.getKey()).get().extracting(Rejection::reason)
                    .isEqualTo(e.getKey().split(" ")[0]);
        }

        // Nothing of them was applied: no new node, no counts, no pool sample, no breaker, no sign of life.
        ClusterSnapshot after = now();
        assertThat(after.nodes()).extracting(NodeView::id).containsExactly("n1");
        assertThat(after.totals(Duration.ofHours(1))).isEqualTo(Counts.ZERO);
        assertThat(after.node("n1").orElseThrow().lastSeen()).isEqualTo(clock.instant().minusSeconds(bogus.size()));
        assertThat(after.node("n1").orElseThrow().breakers()).containsOnlyKeys("hub");
        assertThat(after.node("n1").orElseThrow().pool().sample().availability()).isEqualTo(0.9);

        // The same node's good events still count.
        clock.advanceSeconds(1);
        assertThat(apply(n1.work(5, 50, 0).heartbeat(0))).isEmpty();
        assertThat(now().totals(Duration.ofHours(1)).jobsDone()).isEqualTo(5);
    }

    @Test
    void longFreeTextIsKeptShortenedRatherThanRefused() {
        TestEvents n1 = new TestEvents("n1");
        apply(n1.started(0));
        assertThat(apply(n1.event(0, new EventPayload.NodeStopping("line one\nline two " + "x".repeat(100_000)))))
                .isEmpty();
        assertThat(now().node("n1").orElseThrow().stopReason()).hasSize(1_000).startsWith("line one\nline two");
    }

    @Test
    void theNodeMapStaysBoundedUnderAFloodOfDistinctIdsAndNeverDropsALiveNode() {
        ClusterState small = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
                Duration.ofMinutes(10), Duration.ofHours(1), 50));
        TestEvents n1 = new TestEvents("n1");
        small.apply(n1.heartbeat(0), clock.instant());
        long refused = 0;
        for (int i = 0; i < 10_000; i++) {
            Optional<Rejection> r = small.apply(new TestEvents("flood-" + i).heartbeat(0), clock.instant());
            if (r.isPresent()) {
                assertThat(r.get().reason()).isEqualTo(Rejection.TOO_MANY_NODES);
                refused++;
            }
            if (i % 100 == 0) {
                clock.advanceSeconds(1);
                assertThat(small.apply(n1.work(1, 1, 0).heartbeat(0), clock.instant())).isEmpty();
            }
        }
        assertThat(small.nodeCount()).isEqualTo(50);
        assertThat(refused).isEqualTo(10_000 - 49);
        ClusterSnapshot full = small.snapshot(clock.instant());
        assertThat(full.node("n1").orElseThrow().alive()).isTrue();
        assertThat(full.totals(Duration.ofHours(1)).jobsDone()).isEqualTo(100);

        // An hour after the flood its nodes are forgotten and new ones fit again; n1, still beating, stays.
        for (int minute = 0; minute < 61; minute++) {
            clock.advanceSeconds(60);
            small.apply(n1.heartbeat(0), clock.instant());
        }
        clock.advanceSeconds(1);
        assertThat(small.apply(new TestEvents("newcomer").heartbeat(0), clock.instant())).isEmpty();
        assertThat(small.snapshot(clock.instant()).nodes()).extracting(NodeView::id)
                .containsExactly("n1", "newcomer");
    }

    @Test
    void concurrentFloodsNeverGrowTheNodeMapPastItsBound() throws Exception {
        ClusterState small = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
                Duration.ofMinutes(10), Duration.ofHours(1), 100));
        int threads = 4;
        int each = 5_000;
        CountDownLatch start = new CountDownLatch(1);
        AtomicLong accepted = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < each; i++) {
                        Event event = new TestEvents("t" + thread + "-" + i).heartbeat(0);
                        (small.apply(event, clock.instant()).isPresent() ? refused : accepted).incrementAndGet();
                        if (i % 500 == 0) {
                            assertThat(small.snapshot(clock.instant()).nodes().size()).isLessThanOrEqualTo(100);
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(accepted.get()).isEqualTo(100);
        assertThat(refused.get()).isEqualTo(threads * each - 100);
        assertThat(small.nodeCount()).isEqualTo(100);
    }

    @Test
    void windowSumsOfHugeCountersStayAtTheMostInsteadOfWrappingNegative() {
        // Counters restarting from huge values on every heartbeat: each reading is a delta of its own.
        TestEvents n1 = new TestEvents("n1");
        apply(n1.heartbeat(0));
        for (int i = 0; i < 4; i++) {
            clock.advanceSeconds(1);
            apply(n1.event(0, heartbeat(5_000, counters(Long.MAX_VALUE / 2 + i, 0), POOL, QUEUE)));
            clock.advanceSeconds(1);
            apply(n1.event(0, heartbeat(5_000, counters(1, 0), POOL, QUEUE)));
        }
        assertThat(now().totals(Duration.ofMinutes(1)).jobsDone()).isEqualTo(Long.MAX_VALUE);
    }
}
