package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;
import dev.sluice.coordinator.internal.LogThrottle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The state of the fleet, built from node events. Thread-safe: the events consumer applies events, the alert
 * engine and the HTTP feed read {@link #snapshot(Instant) snapshots}.
 *
 * <p>Time is never read from a clock here: every event comes with the instant it was observed at (the consumer
 * decides: its clock for live events, the record's timestamp for events read again at start), and a snapshot is
 * taken at a given instant. Liveness is judged at the snapshot's instant: a node is alive when it has not said it
 * is stopping and its last event is no older than {@link Settings#missedHeartbeats()} heartbeat intervals, not
 * counting an {@link EventsGap} (a time the events could not be read).
 *
 * <p>Rates come from counter deltas: each heartbeat carries a node's monotonic counters since its start, the delta to
 * the previous heartbeat is kept for {@link Settings#history()}, and windows sum the deltas inside them. A node's
 * first heartbeat seen only sets the baseline (its totals since start are not news). A restart (a node-started
 * event, a lower sequence number, or any counter lower than before) starts the counters from zero again, so the
 * new reading is the delta.
 *
 * <p>Nothing a node sends is trusted: an event whose values are out of bounds ({@link EventLimits}) is refused
 * whole, and so is the first event of a new node while {@link Settings#maxNodes()} nodes are known (nodes are never
 * dropped to make room; forgotten ones free theirs). {@link #apply} says why it refused.
 */
public final class ClusterState {

    /** Nodes tracked at most unless the settings say otherwise. */
    public static final int DEFAULT_MAX_NODES = 1_000;

    private static final Logger log = LoggerFactory.getLogger(ClusterState.class);
    /** While full, forgotten nodes are looked for at most this often (a flood of new ids must stay cheap). */
    private static final Duration FORGET_WHEN_FULL_EVERY = Duration.ofSeconds(1);

    /**
     * @param defaultHeartbeatInterval  assumed for a node that has not announced its interval
     * @param missedHeartbeats          heartbeat intervals of silence after which a node counts as down
     * @param history                   how long deltas and pool samples are kept (at least the longest window or
     *                                  for-duration that reads them)
     * @param forgetAfter               a node silent or stopped this long is dropped
     * @param maxNodes                  nodes tracked at most: a new node's events are refused while this many are
     */
    public record Settings(Duration defaultHeartbeatInterval, int missedHeartbeats, Duration history,
                           Duration forgetAfter, int maxNodes) {
        public Settings {
            Objects.requireNonNull(defaultHeartbeatInterval, "defaultHeartbeatInterval");
            Objects.requireNonNull(history, "history");
            Objects.requireNonNull(forgetAfter, "forgetAfter");
            if (missedHeartbeats < 1) {
                throw new IllegalArgumentException("missedHeartbeats must be at least 1, but was " + missedHeartbeats);
            }
            if (maxNodes < 1) {
                throw new IllegalArgumentException("maxNodes must be at least 1, but was " + maxNodes);
            }
        }

        /** With at most {@link #DEFAULT_MAX_NODES} nodes. */
        public Settings(Duration defaultHeartbeatInterval, int missedHeartbeats, Duration history,
                        Duration forgetAfter) {
            this(defaultHeartbeatInterval, missedHeartbeats, history, forgetAfter, DEFAULT_MAX_NODES);
        }
    }

    private final Settings settings;
    private final Map<String, NodeState> nodes = new HashMap<>();
    private final LogThrottle logs = new LogThrottle(Duration.ofMinutes(1));
    private Instant lastForgetWhenFull;
    private long nodesSkipped;

    public ClusterState(Settings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    public Settings settings() {
        return settings;
    }

    /**
     * Applies one event observed at {@code observedAt}, unless its values are out of bounds or it is the first of a
     * new node while {@link Settings#maxNodes()} are known.
     *
     * @return why the event was refused (and not applied at all); empty when it was applied
     */
    public synchronized Optional<Rejection> apply(Event event, Instant observedAt) {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(observedAt, "observedAt");
        Optional<Rejection> invalid = EventLimits.check(event, observedAt);
        if (invalid.isPresent()) {
            return invalid;
        }
        if (event.payload() instanceof dev.sluice.common.event.EventPayload.OperatorAction) {
            return Optional.empty(); // an operator's change, published by the coordinator: no node's state
        }
        NodeState node = nodes.get(event.nodeId());
        if (node == null) {
            if (!roomForANewNode(observedAt)) {
                return Optional.of(new Rejection(Rejection.TOO_MANY_NODES, "already tracking " + nodes.size()
                        + " nodes, the most allowed; not tracking node " + EventLimits.shown(event.nodeId())));
            }
            node = new NodeState(event.nodeId(), observedAt, settings);
            nodes.put(event.nodeId(), node);
        }
        node.apply(event, observedAt);
        return Optional.empty();
    }

    /** True when a new node fits, once nodes to be forgotten by {@code at} are dropped; a live node never is. */
    private boolean roomForANewNode(Instant at) {
        if (nodes.size() < settings.maxNodes()) {
            return true;
        }
        if (lastForgetWhenFull == null || Duration.between(lastForgetWhenFull, at).abs()
                .compareTo(FORGET_WHEN_FULL_EVERY) >= 0) {
            lastForgetWhenFull = at;
            nodes.values().removeIf(n -> n.forgettable(at));
        }
        return nodes.size() < settings.maxNodes();
    }

    /**
     * Makes the state know a node that was down (since {@code downSince}) when an earlier coordinator stopped, if
     * the events read again at start have not told of it, so its node-down alert neither resolves for lack of data
     * nor fires anew. Its last-seen time is put where the default heartbeat interval makes it down since then.
     *
     * @return false when the node is not remembered: its id is not a node id, or no new node fits
     */
    public synchronized boolean rememberDownNode(String nodeId, Instant downSince) {
        if (nodes.containsKey(nodeId)) {
            return true;
        }
        if (EventLimits.checkNodeId(nodeId).isPresent() || !roomForANewNode(downSince)) {
            return false;
        }
        Instant lastSeen = downSince.minus(settings.defaultHeartbeatInterval().multipliedBy(settings.missedHeartbeats()));
        nodes.put(nodeId, new NodeState(nodeId, lastSeen, settings));
        return true;
    }

    /** Nodes known now, whether alive, down or stopped (until forgotten). */
    public synchronized int nodeCount() {
        return nodes.size();
    }

    /** Times a node was left out of a snapshot because its state could not be read, since start. */
    public synchronized long nodesSkipped() {
        return nodesSkipped;
    }

    /** The fleet at {@code now}, with the events current. */
    public ClusterSnapshot snapshot(Instant now) {
        return snapshot(now, now);
    }

    /**
     * The fleet at {@code now}, the events read up to {@code asOf} (later than {@code now} counts as {@code now}):
     * liveness, windows and forgetting are judged at {@code asOf}, so a node is not called down for events that
     * could not arrive. Nodes silent or stopped longer than {@link Settings#forgetAfter()} are dropped.
     */
    public ClusterSnapshot snapshot(Instant now, Instant asOf) {
        return snapshot(now, asOf, null);
    }

    /**
     * As {@link #snapshot(Instant, Instant)}, and a node's silence during {@code gap} (the latest stretch when the
     * events could not be read, or null) does not count towards its missed heartbeats: when the events flow again a
     * node that was alive when they stopped has what was left of its allowance to be heard from, rather than being
     * called down at once because its events are still on their way.
     */
    public synchronized ClusterSnapshot snapshot(Instant now, Instant asOf, EventsGap gap) {
        Instant judged = asOf.isAfter(now) ? now : asOf;
        nodes.values().removeIf(n -> n.forgettable(judged));
        List<NodeView> views = new ArrayList<>(nodes.size());
        for (NodeState node : nodes.values()) {
            try {
                views.add(node.view(judged, gap));
            } catch (RuntimeException e) {
                // Bounded values should make this impossible; if not, one node must not stop every evaluation.
                nodesSkipped++;
                long held = logs.permit("view", now);
                if (held >= 0) {
                    log.error("left node {} out of the snapshot: its state cannot be read ({} more left out in the "
                            + "last {})", EventLimits.shown(node.id()), held, logs.period(), e);
                }
            }
        }
        views.sort(Comparator.comparing(NodeView::id));
        return new ClusterSnapshot(now, judged, views);
    }
}
