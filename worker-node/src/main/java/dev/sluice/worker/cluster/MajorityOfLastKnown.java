package dev.sluice.worker.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionFunction;

import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/**
 * Split-brain protection: this side of the cluster may use the protected structures only while it holds a strict
 * majority of the last known fleet, {@code 2 * members > lastKnown}.
 *
 * <p>The last known size grows with every member that joins and shrinks only when a member leaves on purpose: a
 * node that shuts down gracefully announces it first ({@link #leaving(UUID)}). A member that vanishes without
 * notice may be dead or only cut off, so it keeps counting: after a crash the survivors keep their majority (two
 * of three), and after a real split only the side with the majority keeps working. A fleet of two therefore stops
 * when either member vanishes without notice; that is the price of not being able to tell a crash from a split.
 *
 * <p>Hazelcast calls {@link #apply} on every membership change and once per heartbeat interval, from one thread.
 */
public final class MajorityOfLastKnown implements SplitBrainProtectionFunction {
    private final Set<UUID> announcedLeaving = new HashSet<>();
    private Set<UUID> known = Set.of();
    private int lastKnown;
    private int current;

    @Override
    public synchronized boolean apply(Collection<Member> members) {
        Set<UUID> now = new HashSet<>();
        for (Member m : members) {
            now.add(m.getUuid());
        }
        int left = 0;
        for (UUID gone : known) {
            if (!now.contains(gone) && announcedLeaving.remove(gone)) {
                left++;
            }
        }
        lastKnown = Math.max(lastKnown - left, now.size());
        current = now.size();
        known = now;
        return hasMajority();
    }

    /** A member said it is about to shut down gracefully: once it is gone, the fleet is smaller. */
    public synchronized void leaving(UUID member) {
        announcedLeaving.add(member);
    }

    /** The fleet size a majority is counted against. */
    public synchronized int lastKnownSize() {
        return Math.max(1, lastKnown);
    }

    /** Members this side saw last. */
    public synchronized int currentSize() {
        return current;
    }

    public synchronized boolean hasMajority() {
        return 2 * current > lastKnown;
    }

    @Override
    public synchronized String toString() {
        return "majority of the last known " + lastKnown + " member(s) (" + current + " present)";
    }
}
