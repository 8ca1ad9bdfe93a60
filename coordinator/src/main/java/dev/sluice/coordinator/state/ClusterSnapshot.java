package dev.sluice.coordinator.state;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The whole fleet at one instant, immutable: what the alert rules evaluate and the HTTP feed shows.
 *
 * @param at     the coordinator's time of the snapshot
 * @param asOf   the time up to which the events are known to have been read (at most {@code at}): liveness and
 *               windows are judged at this time, so a stalled events pipeline (Kafka down, consumer behind) freezes
 *               them instead of making every node look down and every rate look zero
 * @param nodes  every known node, by id
 */
public record ClusterSnapshot(Instant at, Instant asOf, List<NodeView> nodes) {

    public ClusterSnapshot {
        nodes = List.copyOf(nodes);
        if (asOf.isAfter(at)) {
            throw new IllegalArgumentException("asOf " + asOf + " is after the snapshot's time " + at);
        }
    }

    /** A snapshot whose events are current. */
    public ClusterSnapshot(Instant at, List<NodeView> nodes) {
        this(at, at, nodes);
    }

    public List<NodeView> aliveNodes() {
        return nodes.stream().filter(NodeView::alive).toList();
    }

    public Optional<NodeView> node(String id) {
        return nodes.stream().filter(n -> n.id().equals(id)).findFirst();
    }

    /** What every node's counters rose by within the {@code window} before {@link #asOf()}, summed over the fleet. */
    public Counts totals(Duration window) {
        Instant from = asOf.minus(window);
        Counts sum = Counts.ZERO;
        for (NodeView node : nodes) {
            sum = sum.plus(node.totalsAfter(from));
        }
        return sum;
    }

    /** The newest queue sample of any node. */
    public Optional<QueueView> latestQueue() {
        return nodes.stream().map(NodeView::queue).filter(q -> q != null)
                .max(Comparator.comparing(QueueView::sampledAt));
    }

    /** The newest queue sample of a live node: a dead node's sample says nothing about the queue now. */
    public Optional<QueueView> latestQueueOfLiveNodes() {
        return aliveNodes().stream().map(NodeView::queue).filter(q -> q != null)
                .max(Comparator.comparing(QueueView::sampledAt));
    }
}
