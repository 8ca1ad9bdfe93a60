package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.event.EventPayload.BreakerTransition;
import dev.sluice.common.event.EventPayload.Heartbeat;
import dev.sluice.common.event.EventPayload.JobDeadLettered;
import dev.sluice.common.event.EventPayload.LimiterState;
import dev.sluice.common.event.EventPayload.LimitsChanged;
import dev.sluice.common.event.EventPayload.OperatorAction;
import dev.sluice.common.event.EventPayload.PauseChanged;
import dev.sluice.common.event.EventPayload.NodeStarted;
import dev.sluice.common.event.EventPayload.NodeStopping;
import dev.sluice.common.event.EventPayload.PoolPressure;
import dev.sluice.common.event.EventPayload.PoolSample;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** One node's mutable state; guarded by {@link ClusterState}'s lock. Its events have passed {@link EventLimits}. */
final class NodeState {

    /** Heartbeat limiter states that mean "working on the shared store". */
    private static final Set<String> LIMITER_OK = Set.of("ok", "normal", "healthy");

    private final String id;
    private final ClusterState.Settings settings;
    private final Instant firstSeen;
    private Instant lastSeen;
    private long lastSequence = -1;
    private Duration heartbeatInterval;
    private boolean stopped;
    private String stopReason;
    private int restarts;
    private NodeView.Started started;
    private Counts baseline;
    private PoolView pool;
    private final Map<String, BreakerView> breakers = new TreeMap<>();
    private LimiterView limiter;
    private QueueView queue;
    private dev.sluice.common.event.EventPayload.FleetSample fleet;
    private final Deque<NodeView.UsagePoint> poolUsage = new ArrayDeque<>();
    private final Deque<NodeView.DeltaSample> deltas = new ArrayDeque<>();

    NodeState(String id, Instant firstSeen, ClusterState.Settings settings) {
        this.id = id;
        this.settings = settings;
        this.firstSeen = firstSeen;
        this.lastSeen = firstSeen;
        this.heartbeatInterval = settings.defaultHeartbeatInterval();
    }

    String id() {
        return id;
    }

    void apply(Event event, Instant at) {
        if (at.isAfter(lastSeen)) {
            lastSeen = at;
        }
        boolean sequenceWentBack = lastSequence >= 0 && event.sequence() < lastSequence;
        lastSequence = event.sequence();
        EventPayload payload = event.payload();
        if (payload instanceof NodeStarted s) {
            onStarted(s);
        } else if (sequenceWentBack) {
            // A new run whose node-started event we did not see.
            restarted();
        }
        switch (payload) {
            case NodeStarted s -> {
                // handled above
            }
            case NodeStopping s -> {
                stopped = true;
                stopReason = EventLimits.text(s.reason());
            }
            case Heartbeat h -> onHeartbeat(h, at);
            case BreakerTransition t -> breaker(t.breaker(), t.to(), at);
            case PoolPressure p -> pool(p.pool(), p.entered(), at);
            case LimiterState l -> limiter(l.degraded(), l.degraded() ? "degraded" : "ok", EventLimits.text(l.reason()),
                    l.policy(), at);
            case JobDeadLettered d -> {
                // Counted through the heartbeat's counters, which survive lost events.
            }
            case LimitsChanged c -> {
                // The fleet's limits live in Redis (the limits record); nodes say which version they took up. Not
                // kept per node yet.
            }
            case OperatorAction a -> {
                // Never reaches a node: the cluster state takes it (see ClusterState#apply).
            }
            case PauseChanged c -> {
                // The pause lives in the fleet's record in Redis, which the coordinator reads for itself.
            }
        }
        trim(at);
    }

    private void onStarted(NodeStarted s) {
        if (baseline != null || stopped) {
            restarts++;
        }
        started = new NodeView.Started(s.queueMode(), s.concurrency(), s.poolSize());
        if (s.heartbeatIntervalMs() > 0) {
            heartbeatInterval = Duration.ofMillis(s.heartbeatIntervalMs());
        }
        fresh();
        baseline = Counts.ZERO;
    }

    private void restarted() {
        restarts++;
        fresh();
        baseline = Counts.ZERO;
    }

    /** A new process: what the old one reported about itself no longer holds. */
    private void fresh() {
        stopped = false;
        stopReason = null;
        breakers.clear();
        limiter = null;
        if (pool != null) {
            pool = new PoolView(pool.sample(), pool.sampledAt(), false);
        }
    }

    private void onHeartbeat(Heartbeat h, Instant at) {
        if (h.intervalMs() > 0) {
            heartbeatInterval = Duration.ofMillis(h.intervalMs());
        }
        if (h.counters() != null) {
            Counts now = Counts.of(h.counters());
            if (baseline != null && now.isBelowAnywhere(baseline)) {
                restarted();
            }
            if (baseline != null) {
                deltas.addLast(new NodeView.DeltaSample(at, Counts.delta(baseline, now)));
            }
            baseline = now;
        }
        if (h.pool() != null) {
            pool(h.pool(), pool != null && pool.underPressure(), at);
        }
        if (h.breakers() != null) {
            breakers.keySet().retainAll(h.breakers().keySet());
            h.breakers().forEach((name, state) -> breaker(name, state, at));
        }
        if (h.limiterState() != null) {
            String state = h.limiterState().strip().toLowerCase(Locale.ROOT);
            boolean degraded = !state.isEmpty() && !LIMITER_OK.contains(state);
            boolean same = limiter != null && limiter.degraded() == degraded;
            // A limiter-state event says more (reason, policy) than the heartbeat's one word: keep what it said.
            String reason = !degraded ? null : same && limiter.reason() != null ? limiter.reason() : state;
            limiter(degraded, state, reason, limiter == null ? null : limiter.policy(), at);
        }
        if (h.queue() != null) {
            queue = new QueueView(id, at, h.queue());
        }
        if (h.fleet() != null) {
            fleet = h.fleet();
        }
    }

    private void limiter(boolean degraded, String state, String reason, String policy, Instant at) {
        Instant since = limiter != null && limiter.degraded() == degraded ? limiter.since() : at;
        limiter = new LimiterView(degraded, state, reason, policy, since);
    }

    private void pool(PoolSample sample, boolean underPressure, Instant at) {
        if (sample == null) {
            return;
        }
        pool = new PoolView(sample, at, underPressure);
        poolUsage.addLast(new NodeView.UsagePoint(at, sample.usage()));
    }

    private void breaker(String name, String reported, Instant at) {
        if (name == null) {
            return;
        }
        String state = BreakerView.normalize(reported);
        BreakerView old = breakers.get(name);
        if (old != null && old.state().equals(state)) {
            return;
        }
        Instant notClosedSince = null;
        if (BreakerView.isNotClosed(state)) {
            notClosedSince = old != null && old.notClosed() ? old.notClosedSince() : at;
        }
        breakers.put(name, new BreakerView(state, at, notClosedSince));
    }

    private void trim(Instant at) {
        Instant oldest = at.minus(settings.history());
        // Keep the last sample before the window: it tells whether usage was already high when the window began.
        while (poolUsage.size() > 1 && secondOf(poolUsage).at().isBefore(oldest)) {
            poolUsage.removeFirst();
        }
        while (!deltas.isEmpty() && deltas.peekFirst().at().isBefore(oldest)) {
            deltas.removeFirst();
        }
    }

    private static NodeView.UsagePoint secondOf(Deque<NodeView.UsagePoint> points) {
        var it = points.iterator();
        it.next();
        return it.next();
    }

    /**
     * When it counts as down if nothing more arrives: once it has missed its heartbeats, not counting its silence
     * during {@code gap} (the events could not be read then, so they could not tell of it). A node already down when
     * the gap began stays down since then.
     */
    Instant downSince(EventsGap gap) {
        Instant missed = lastSeen.plus(heartbeatInterval.multipliedBy(settings.missedHeartbeats()));
        if (gap == null || !missed.isAfter(gap.from()) || !lastSeen.isBefore(gap.to())) {
            return missed;
        }
        Instant unheardFrom = lastSeen.isAfter(gap.from()) ? lastSeen : gap.from();
        return missed.plus(Duration.between(unheardFrom, gap.to()));
    }

    boolean alive(Instant now, EventsGap gap) {
        return !stopped && !now.isAfter(downSince(gap));
    }

    boolean forgettable(Instant now) {
        return now.isAfter(lastSeen.plus(settings.forgetAfter()));
    }

    NodeView view(Instant now, EventsGap gap) {
        trim(now);
        return new NodeView(id, alive(now, gap), stopped, stopReason, firstSeen, lastSeen, heartbeatInterval,
                stopped ? null : downSince(gap), restarts, started, pool,
                Collections.unmodifiableMap(new TreeMap<>(breakers)), limiter, queue, List.copyOf(poolUsage),
                List.copyOf(deltas), fleet);
    }
}
