package dev.sluice.worker.limits;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

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
    static final byte VERSION = 1;

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
    private final List<Lease> leases = new ArrayList<>();
    private final List<Ticket> tickets = new ArrayList<>();

    Reply acquire(String id, String holder, int limit, long leaseMs, long ticketTtlMs, long now) {
        expire(now);
        if (pausedUntilMs > now) {
            return new Reply(State.PAUSED, pausedUntilMs - now, -1, pausedUntilMs - now);
        }
        for (Lease l : leases) {
            if (l.id().equals(id)) {
                return new Reply(State.GRANTED, l.endMs(), -1, 0); // an entry processor that ran twice
            }
        }
        int free = limit - leases.size();
        int position = indexOfTicket(id);
        if (position < 0 && free > tickets.size()) {
            return grant(id, holder, now + leaseMs);
        }
        if (position < 0) {
            tickets.add(new Ticket(id, holder, now + ticketTtlMs));
            position = tickets.size() - 1;
        }
        if (position < free) {
            tickets.remove(position);
            return grant(id, holder, now + leaseMs);
        }
        tickets.set(position, new Ticket(id, holder, now + ticketTtlMs));
        return new Reply(State.WAIT, untilNextLeaseEnds(now), position, 0);
    }

    private Reply grant(String id, String holder, long endMs) {
        leases.add(new Lease(id, holder, endMs));
        return new Reply(State.GRANTED, endMs, -1, 0);
    }

    /** Starts the lease again from now, right before the request goes out, and tells whether a pause began. */
    Reply renew(String id, long leaseMs, long now) {
        expire(now);
        long pause = Math.max(0, pausedUntilMs - now);
        for (int i = 0; i < leases.size(); i++) {
            Lease l = leases.get(i);
            if (l.id().equals(id)) {
                long end = Math.max(l.endMs(), now + leaseMs);
                leases.set(i, new Lease(id, l.holder(), end));
                return new Reply(State.RENEWED, end, -1, pause);
            }
        }
        return new Reply(State.LOST, 0, -1, pause);
    }

    /** Ends a lease. Returns the tickets that may now take a permit (to wake their waiters), or null if it was not held. */
    List<String> release(String id, int limit, long now) {
        boolean removed = leases.removeIf(l -> l.id().equals(id));
        expire(now);
        return removed ? eligible(limit) : null;
    }

    /** Ids of the tickets that would be granted a permit if their waiters asked now. */
    List<String> eligible(int limit) {
        int free = Math.max(0, limit - leases.size());
        List<String> out = new ArrayList<>(Math.min(free, tickets.size()));
        for (int i = 0; i < free && i < tickets.size(); i++) {
            out.add(tickets.get(i).id());
        }
        return out;
    }

    /** Removes a waiter's ticket; returns whether it was there. */
    boolean cancel(String id) {
        return tickets.removeIf(t -> t.id().equals(id));
    }

    /** Pauses every grant until {@code untilMs}, unless a longer pause is already set. */
    void pauseUntil(long untilMs) {
        pausedUntilMs = Math.max(pausedUntilMs, untilMs);
    }

    /** Drops leases that ended and tickets nobody renewed. Returns whether anything changed. */
    boolean expire(long now) {
        boolean a = leases.removeIf(l -> l.endMs() <= now);
        boolean b = tickets.removeIf(t -> t.expiresMs() <= now);
        return a || b;
    }

    private long untilNextLeaseEnds(long now) {
        long next = Long.MAX_VALUE;
        for (Lease l : leases) {
            next = Math.min(next, l.endMs());
        }
        return next == Long.MAX_VALUE ? 0 : next - now;
    }

    private int indexOfTicket(String id) {
        for (int i = 0; i < tickets.size(); i++) {
            if (tickets.get(i).id().equals(id)) {
                return i;
            }
        }
        return -1;
    }

    List<Lease> leases() {
        return List.copyOf(leases);
    }

    List<Ticket> tickets() {
        return List.copyOf(tickets);
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
            if (version != VERSION) {
                throw new IllegalStateException("the fleet permit table has schema version " + version
                        + ", but this node reads version " + VERSION + "; upgrade the node");
            }
            table.pausedUntilMs = in.readLong();
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                table.leases.add(new Lease(in.readUTF(), in.readUTF(), in.readLong()));
            }
            int m = in.readInt();
            for (int i = 0; i < m; i++) {
                table.tickets.add(new Ticket(in.readUTF(), in.readUTF(), in.readLong()));
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
            out.writeInt(leases.size());
            for (Lease l : leases) {
                out.writeUTF(l.id());
                out.writeUTF(l.holder());
                out.writeLong(l.endMs());
            }
            out.writeInt(tickets.size());
            for (Ticket t : tickets) {
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
