package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

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
 */
public final class ClusterState {

    /**
     * @param defaultHeartbeatInterval  assumed for a node that has not announced its interval
     * @param missedHeartbeats          heartbeat intervals of silence after which a node counts as down
     * @param history                   how long deltas and pool samples are kept (at least the longest window or
     *                                  for-duration that reads them)
     * @param forgetAfter               a node silent or stopped this long is dropped
     */
    public record Settings(Duration defaultHeartbeatInterval, int missedHeartbeats, Duration history,
                           Duration forgetAfter) {
        public Settings {
            Objects.requireNonNull(defaultHeartbeatInterval, "defaultHeartbeatInterval");
            Objects.requireNonNull(history, "history");
            Objects.requireNonNull(forgetAfter, "forgetAfter");
            if (missedHeartbeats < 1) {
                throw new IllegalArgumentException("missedHeartbeats must be at least 1, but was " + missedHeartbeats);
            }
        }
    }

    private final Settings settings;
    private final Map<String, NodeState> nodes = new HashMap<>();

    public ClusterState(Settings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    public Settings settings() {
        return settings;
    }

    /** Applies one event observed at {@code observedAt}. */
    public synchronized void apply(Event event, Instant observedAt) {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(observedAt, "observedAt");
        nodes.computeIfAbsent(event.nodeId(), id -> new NodeState(id, observedAt, settings))
                .apply(event, observedAt);
    }

    /**
     * Makes the state know a node that was down (since {@code downSince}) when an earlier coordinator stopped, if
     * the events read again at start have not told of it, so its node-down alert neither resolves for lack of data
     * nor fires anew. Its last-seen time is put where the default heartbeat interval makes it down since then.
     */
    public synchronized void rememberDownNode(String nodeId, Instant downSince) {
        Instant lastSeen = downSince.minus(settings.defaultHeartbeatInterval().multipliedBy(settings.missedHeartbeats()));
        nodes.computeIfAbsent(nodeId, id -> new NodeState(id, lastSeen, settings));
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
            views.add(node.view(judged, gap));
        }
        views.sort(Comparator.comparing(NodeView::id));
        return new ClusterSnapshot(now, judged, views);
    }
}
