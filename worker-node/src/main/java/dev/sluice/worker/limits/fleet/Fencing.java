package dev.sluice.worker.limits.fleet;

import com.hazelcast.cluster.Member;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.fleet.grant.GrantRight;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Who may take new capacity from the store, and until when held capacity may still be sent: the node's
 * {@link GrantRight} (the grantor lease in a worker node), read on this process's monotonic clock at the moment of
 * each decision, never through a flag another thread set. Also the limiter protocol a node speaks: a fleet whose
 * members disagree on who may grant is not to be trusted.
 */
final class Fencing {
    /**
     * The member attribute naming the limiter protocol a node speaks. Protocol 4 follows the fleet's live limits
     * (one rate bucket whose configuration carries the limits version; the permit table keeps the newest in-flight
     * limit a batch told it of). Protocol 3 kept permits between requests and
     * reserves tokens ahead (the permit table's batch reply carries its demand); protocol 2 granted only on the side
     * holding the grantor lease in Redis, as 3 does; protocol 1 (no attribute) went by the majority of the last known
     * fleet.
     */
    static final String PROTOCOL_ATTRIBUTE = "sluice.limiter.protocol";
    static final String PROTOCOL = "4";
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final LongSupplier nanoTime;
    private final LongAdder fencedSends = new LongAdder();
    private volatile GrantRight right;

    Fencing(GrantRight right, LongSupplier nanoTime) {
        this.right = right;
        this.nanoTime = nanoTime;
    }

    void decideBy(GrantRight right) {
        this.right = right;
    }

    /**
     * True once this node may take new capacity; false when the deadline came first while it waited for a wait that
     * ends by itself (a start, a quiet time); a StoreFailure when it may not for another reason, saying why.
     */
    boolean awaitGrantRight(long deadline) throws StoreFailure, InterruptedException {
        while (true) {
            long now = nanoTime.getAsLong();
            GrantRight r = right;
            if (r.mayGrant(now)) {
                return true;
            }
            if (!r.waiting(now)) {
                throw new StoreFailure(r.whyNot(now), null);
            }
            if (deadline - now <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.sleep(Math.min(POLL_NANOS, deadline - now));
        }
    }

    /**
     * After a store call that took new capacity: the right must still hold. A split that Hazelcast noticed while the
     * call ran lets it complete on this side's copy of the store alone (its backups across the cut are no longer
     * awaited); what it granted there is not used.
     */
    void stillMayGrant() throws StoreFailure {
        long now = nanoTime.getAsLong();
        GrantRight r = right;
        if (!r.mayGrant(now)) {
            String why = r.whyNot(now);
            throw new StoreFailure("the right to grant ended while the store answered"
                    + (why.isEmpty() ? "" : ": " + why), null);
        }
    }

    /** Right before a request's first byte: may it leave now? A request held back is counted. */
    boolean maySendNow() {
        if (right.maySend(nanoTime.getAsLong())) {
            return true;
        }
        fencedSends.increment();
        return false;
    }

    boolean mayGrantNow() {
        return right.mayGrant(nanoTime.getAsLong());
    }

    /** Why this node may not take new capacity now, "" when it may. */
    String whyNot() {
        return right.whyNot(nanoTime.getAsLong());
    }

    /** Whether the reason it may not is a wait that ends by itself. */
    boolean waiting() {
        return right.waiting(nanoTime.getAsLong());
    }

    String describe() {
        return right.describe();
    }

    /** Requests held back right before their first byte because this node's side may no longer send, since start. */
    long fencedSends() {
        return fencedSends.sum();
    }

    /** Why this fleet cannot be trusted for the protocol it speaks, or null when every member speaks this node's. */
    static String protocolMismatch(ClusterMember member) {
        try {
            for (Member m : member.hazelcast().getCluster().getMembers()) {
                String spoken = m.getAttribute(PROTOCOL_ATTRIBUTE);
                if (!PROTOCOL.equals(spoken)) {
                    return "cluster member " + m.getAddress() + " (node " + ClusterMember.nodeIdOf(m) + ") speaks limiter "
                            + "protocol " + (spoken == null ? "1" : spoken) + ", this node " + PROTOCOL + ": old and new "
                            + "limiter protocols cannot share a fleet (they disagree on who may grant); upgrade or stop it";
                }
            }
        } catch (RuntimeException e) {
            return null; // not running any more
        }
        return null;
    }
}
