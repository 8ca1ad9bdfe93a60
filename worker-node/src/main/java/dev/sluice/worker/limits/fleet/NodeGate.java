package dev.sluice.worker.limits.fleet;

import java.util.concurrent.Semaphore;

/** The node-local gate of threads that hold or wait for permits: as many as the in-flight limit, served in order. */
final class NodeGate extends Semaphore {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    NodeGate(int permits) {
        super(permits, true);
    }

    /** Follows a change of the in-flight limit from {@code from} to {@code to}. */
    void resize(int from, int to) {
        if (to > from) {
            release(to - from);
        } else if (to < from) {
            reducePermits(from - to);
        }
    }
}
