package dev.sluice.worker.limits.fleet;

/**
 * One lease of the fleet's permit table that this node holds: used by one request at a time, and kept between
 * requests while this node has work for it ({@link PermitShare}).
 */
final class HeldPermit {
    final String id;
    /** This node's nanoTime from which the lease runs at the earliest (when its grant or latest renewal was asked). */
    private long leaseFrom;
    private volatile boolean lost;
    /** When it was last put back idle (nanoTime). */
    volatile long idleSince;

    /** The share's generation when it was granted (see {@link PermitShare#limitChanged}). */
    final int generation;

    HeldPermit(String id, long leaseFrom, int generation) {
        this.id = id;
        this.generation = generation;
        this.leaseFrom = leaseFrom;
    }

    synchronized long leaseFrom() {
        return leaseFrom;
    }

    /** A renewal asked at {@code asked} (nanoTime) went through: the lease runs from then at the earliest. */
    synchronized void renewedFrom(long asked) {
        if (asked - leaseFrom > 0) {
            leaseFrom = asked;
        }
    }

    /** The table no longer has the lease (it ended, or a merge dropped it): never used again. */
    void lose() {
        lost = true;
    }

    boolean lost() {
        return lost;
    }
}
