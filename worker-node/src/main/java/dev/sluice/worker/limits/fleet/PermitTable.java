package dev.sluice.worker.limits.fleet;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fleet's concurrency permits: who holds one and until when, who waits for one and in which order, and until
 * when the Hub asked everyone to pause. Pure logic on a value that lives in a Hazelcast map entry and is changed
 * only by entry processors on the entry's owner, each passing that member's clock as {@code now} (milliseconds).
 *
 * <ul>
 *   <li>A permit is a lease: it ends on release or at its end time, never earlier, whatever became of its
 *       holder.</li>
 *   <li>Waiters queue as tickets. Free permits go to the first tickets, in order; a newcomer takes one directly
 *       only when more permits are free than tickets wait. A ticket its waiter stops renewing (it died, or gave
 *       up) expires after its time to live, so it never blocks the queue for long.</li>
 *   <li>While paused nobody is granted a permit; waiters keep their place.</li>
 * </ul>
 *
 * <p>Stored as bytes with a schema version the reader checks.
 */
final class PermitTable {
    static final byte VERSION = 2;

    /** What an acquire or renew came to. */
    enum State { GRANTED, WAIT, PAUSED, LOST, RENEWED }

    record Lease(String id, String holder, long endMs) {
    }

    record Ticket(String id, String holder, long expiresMs) {
    }

    /**
     * @param state     the outcome
     * @param millis    GRANTED, RENEWED: the lease end; WAIT: how long until the next lease ends (a hint);
     *                  PAUSED: how long the pause still lasts
     * @param position  WAIT: place in the queue, from 0
     * @param pauseMs   RENEWED: how long the pause still lasts (0 when none)
     */
    record Reply(State state, long millis, int position, long pauseMs) {
        long[] toWire() {
            return new long[] {state.ordinal(), millis, position, pauseMs};
        }

        static Reply fromWire(long[] wire) {
            return new Reply(State.values()[(int) wire[0]], wire[1], (int) wire[2], wire[3]);
        }
    }

    private long pausedUntilMs;
    /** The fleet's in-flight limit as of limits version {@link #limitsVersion} (0: no versioned limit told yet). */
    private long limitsVersion;
    private int limit;
    // Insertion-ordered: leases by grant, tickets by arrival (a renewed ticket keeps its place).
    private final Map<String, Lease> leases = new LinkedHashMap<>();
    private final Map<String, Ticket> tickets = new LinkedHashMap<>();

    /**
     * The in-flight limit to grant by: the one of the newest limits version a caller told of. A caller on version
     * {@code version} with limit {@code callerLimit} updates it when its version is newer; a caller without a
     * version (0, a limiter that follows no fleet record) sets it while no versioned one was told.
     */
    int limit(long version, int callerLimit) {
        if (version > limitsVersion || (version == 0 && limitsVersion == 0)) {
            limitsVersion = version;
            limit = callerLimit;
        }
        return limit;
    }

    long limitsVersion() {
        return limitsVersion;
    }

    Reply acquire(String id, String holder, int limit, long leaseMs, long ticketTtlMs, long now) {
        expire(now);
        if (pausedUntilMs > now) {
            return new Reply(State.PAUSED, pausedUntilMs - now, -1, pausedUntilMs - now);
        }
        Lease held = leases.get(id);
        if (held != null) {
            return new Reply(State.GRANTED, held.endMs(), -1, 0); // asked twice (a retried store call)
        }
        int free = limit - leases.size();
        boolean queued = tickets.containsKey(id);
        if (!queued && free > tickets.size()) {
            return grant(id, holder, now + leaseMs);
        }
        if (queued && isAmongFirst(id, free)) {
            tickets.remove(id);
            return grant(id, holder, now + leaseMs);
        }
        tickets.put(id, new Ticket(id, holder, now + ticketTtlMs));
        return new Reply(State.WAIT, untilNextLeaseEnds(now), positionOf(id), 0);
    }

    private Reply grant(String id, String holder, long endMs) {
        leases.put(id, new Lease(id, holder, endMs));
        return new Reply(State.GRANTED, endMs, -1, 0);
    }

    /** Starts the lease again from now, right before the request goes out, and tells whether a pause began. */
    Reply renew(String id, long leaseMs, long now) {
        expire(now);
        long pause = Math.max(0, pausedUntilMs - now);
        Lease l = leases.get(id);
        if (l == null) {
            return new Reply(State.LOST, 0, -1, pause);
        }
        long end = Math.max(l.endMs(), now + leaseMs);
        leases.put(id, new Lease(id, l.holder(), end));
        return new Reply(State.RENEWED, end, -1, pause);
    }

    /** Ends a lease. Returns the tickets that may now take a permit (to wake their waiters), or null if it was not held. */
    List<String> release(String id, int limit, long now) {
        boolean removed = leases.remove(id) != null;
        expire(now);
        return removed ? eligible(limit) : null;
    }

    /** Ids of the tickets that would be granted a permit if their waiters asked now. */
    List<String> eligible(int limit) {
        int free = Math.max(0, limit - leases.size());
        List<String> out = new ArrayList<>(Math.min(free, tickets.size()));
        for (String id : tickets.keySet()) {
            if (out.size() >= free) {
                break;
            }
            out.add(id);
        }
        return out;
    }

    /** Removes a waiter's ticket; returns whether it was there. */
    boolean cancel(String id) {
        return tickets.remove(id) != null;
    }

    /** Pauses every grant until {@code untilMs}, unless a longer pause is already set. */
    void pauseUntil(long untilMs) {
        pausedUntilMs = Math.max(pausedUntilMs, untilMs);
    }

    /** Drops leases that ended and tickets nobody renewed. Returns whether anything changed. */
    boolean expire(long now) {
        boolean a = leases.values().removeIf(l -> l.endMs() <= now);
        boolean b = tickets.values().removeIf(t -> t.expiresMs() <= now);
        return a || b;
    }

    private long untilNextLeaseEnds(long now) {
        long next = Long.MAX_VALUE;
        for (Lease l : leases.values()) {
            next = Math.min(next, l.endMs());
        }
        return next == Long.MAX_VALUE ? 0 : next - now;
    }

    private boolean isAmongFirst(String id, int n) {
        int i = 0;
        for (String queued : tickets.keySet()) {
            if (i++ >= n) {
                return false;
            }
            if (queued.equals(id)) {
                return true;
            }
        }
        return false;
    }

    private int positionOf(String id) {
        int i = 0;
        for (String queued : tickets.keySet()) {
            if (queued.equals(id)) {
                return i;
            }
            i++;
        }
        return -1;
    }

    /**
     * Who wants permits now, for a node deciding how many to keep: the distinct holders of leases or tickets, the
     * tickets of holders other than {@code holder}, and the permits free for a newcomer (not held, not owed to a
     * ticket) under {@code limit}.
     */
    int[] demand(String holder, int limit) {
        java.util.Set<String> holders = new java.util.HashSet<>();
        leases.values().forEach(l -> holders.add(l.holder()));
        int othersWaiting = 0;
        for (Ticket t : tickets.values()) {
            holders.add(t.holder());
            if (!t.holder().equals(holder)) {
                othersWaiting++;
            }
        }
        return new int[] {holders.size(), othersWaiting, Math.max(0, limit - leases.size() - tickets.size())};
    }

    List<Lease> leases() {
        return List.copyOf(leases.values());
    }

    List<Ticket> tickets() {
        return List.copyOf(tickets.values());
    }

    long pausedUntilMs() {
        return pausedUntilMs;
    }

    static PermitTable decode(byte[] bytes) {
        PermitTable table = new PermitTable();
        if (bytes == null) {
            return table;
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            byte version = in.readByte();
            if (version != VERSION && version != 1) {
                throw new IllegalStateException("the fleet permit table has schema version " + version
                        + ", but this node reads versions 1 and " + VERSION + "; upgrade the node");
            }
            table.pausedUntilMs = in.readLong();
            if (version >= 2) {
                table.limitsVersion = in.readLong();
                table.limit = in.readInt();
            }
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                Lease l = new Lease(in.readUTF(), in.readUTF(), in.readLong());
                table.leases.put(l.id(), l);
            }
            int m = in.readInt();
            for (int i = 0; i < m; i++) {
                Ticket t = new Ticket(in.readUTF(), in.readUTF(), in.readLong());
                table.tickets.put(t.id(), t);
            }
            return table;
        } catch (IOException e) {
            throw new UncheckedIOException("the fleet permit table cannot be read", e);
        }
    }

    byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + 48 * (leases.size() + tickets.size()));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            out.writeLong(pausedUntilMs);
            out.writeLong(limitsVersion);
            out.writeInt(limit);
            out.writeInt(leases.size());
            for (Lease l : leases.values()) {
                out.writeUTF(l.id());
                out.writeUTF(l.holder());
                out.writeLong(l.endMs());
            }
            out.writeInt(tickets.size());
            for (Ticket t : tickets.values()) {
                out.writeUTF(t.id());
                out.writeUTF(t.holder());
                out.writeLong(t.expiresMs());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
