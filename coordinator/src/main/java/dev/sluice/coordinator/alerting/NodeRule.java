package dev.sluice.coordinator.alerting;

import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.NodeView;

import java.util.ArrayList;
import java.util.List;

/**
 * A rule judged node by node. The engine evaluates each node on its own: when the rule throws on one node's data,
 * that node's alerts of the rule are held as they are and the other nodes are judged as usual.
 */
public interface NodeRule extends AlertRule {

    /** The nodes it judges: the live ones unless it says otherwise. */
    default List<NodeView> nodes(ClusterSnapshot cluster) {
        return cluster.aliveNodes();
    }

    /**
     * The instances on {@code node} for which the condition holds now; empty when none does. Each carries the
     * {@code node} label with the node's id.
     */
    List<Condition> evaluate(ClusterSnapshot cluster, NodeView node);

    /** Every node's instances (the engine calls {@link #evaluate(ClusterSnapshot, NodeView)} itself, node by node). */
    @Override
    default List<Condition> evaluate(ClusterSnapshot cluster) {
        List<Condition> found = new ArrayList<>();
        for (NodeView node : nodes(cluster)) {
            found.addAll(evaluate(cluster, node));
        }
        return found;
    }
}
