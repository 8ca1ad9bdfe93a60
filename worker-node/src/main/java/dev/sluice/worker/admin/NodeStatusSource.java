package dev.sluice.worker.admin;

/**
 * What the {@link AdminServer} asks of the node it reports on. {@code dev.sluice.worker.WorkerNodeStatus} answers for a real
 * {@link dev.sluice.worker.WorkerNode}; tests may answer with anything.
 */
public interface NodeStatusSource {

    /** Whether the node can do its work now, and if not, why. Called on every readiness probe: keep it cheap. */
    Readiness readiness();

    /**
     * Why the node should be restarted (a loop dead or frozen, a fatal error); empty while it is live. Called on
     * every liveness probe: keep it cheap.
     */
    default java.util.List<String> livenessProblems() {
        return java.util.List.of();
    }

    /** A snapshot for {@code GET /api/status}, serialized as JSON. Must hold no secret. */
    NodeStatus status();
}
