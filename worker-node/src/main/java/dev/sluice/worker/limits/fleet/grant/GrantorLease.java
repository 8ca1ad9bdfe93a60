package dev.sluice.worker.limits.fleet.grant;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.SequencedSet;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The fleet's one grantor, arbitrated in Redis. Hazelcast's community edition is AP: at a split both sides keep a
 * full copy of the limiter's state, and each would grant what no node held at the cut. So only the side holding the
 * grantor lease takes new capacity from the store; a side without it may send what it already holds, and nothing
 * more. Redis decides who holds the lease, because a node must reach Redis to get work at all.
 *
 * <h2>Rules (every one a deadline on this process's monotonic clock)</h2>
 * <ul>
 *   <li><b>The holder</b> renews the lease every {@link #step()} ({@link #stepEvery()}: a sixth of the lease). It
 *       may send while {@code nanoTime} is before the send time of its last acknowledged renewal plus the lease minus
 *       the margin, and grant from {@code grantFrom} on, while it still may send. A renewal whose answer was lost may
 *       have run: the count the next answered one shows is then dated from the send of the first unanswered one.</li>
 *   <li><b>Other nodes</b> read the record every step. They may send until the send time of the read before the one
 *       that first showed the current renewal, plus the lease minus the margin (that earlier read executed before the
 *       renewal was written, so the holder renewed after it); they may take grants from the store while they may
 *       send, the holder is ready, and the holder's Hazelcast member is in their own view (the same side of any
 *       split).</li>
 *   <li><b>Cadence.</b> A reader's right runs out a lease minus the margin after the read before the one that
 *       showed a renewal, and the next renewal shows in a read up to a renewal interval plus a read interval later:
 *       the right lasts without a gap only while a renewal interval plus two read intervals stay under the lease minus
 *       the margin. At a third of the lease each, with the node's margin of a quarter (a whole lease against three
 *       quarters), a reader whose reads fell in step with the holder's renewals (scheduling jitter deciding which read
 *       sees which renewal) lost its right for up to a quarter of a lease in every two steps while the holder was
 *       healthy. At a sixth each ({@link #stepEvery()}), a quarter of the lease is left for jitter.</li>
 *   <li><b>Takeover.</b> A record that stood still for a lease plus the margin, as this process saw it, is taken
 *       by compare-and-set. Every send the old side could make ended by the time this node first saw that record plus
 *       a lease minus the margin, so the new holder grants from the takeover plus {@code quiet}: the rate's sliding
 *       second (1 s plus the lateness tolerance) and a permit's request timeout plus grace, whichever is longer.</li>
 *   <li><b>A record that is absent</b> (a fresh fleet, or Redis lost data) or <b>ended</b> (the holder stopped
 *       gracefully) is taken at once, but the holder grants only after a lease plus {@code quiet}: nodes that read
 *       the last renewal may grant until a lease after it, in their own copy of the store if the cluster splits
 *       meanwhile.</li>
 *   <li><b>Confirmed before granting.</b> A new holder grants only once a renewal sent after its wait was
 *       acknowledged: a takeover that Redis lost (a restart right after it) never grants.</li>
 *   <li><b>Redis lost data.</b> A renewal moves the count only from the holder's own last value (compare-and-set), so
 *       a record Redis restored to an older value is never written forward again to a value readers already saw. A
 *       holder whose renewal shows another term, no record, or another count stops sending at once and competes
 *       for the lease again as a newcomer; it is never "first". Terms are random ids. Every write raises the count,
 *       across terms: a reader that sees it not grow while the record changed, or sees a term again that it saw
 *       replaced (Redis went back), trusts nothing in that record until it moves again, since it was written before
 *       the reader's last read, not after.</li>
 *   <li><b>Joins and merges.</b> After a Hazelcast merge one side's copy of the limiter's state replaces the other's,
 *       and the grants recorded only in the dropped copy are forgotten; a join moves partitions. On every member that
 *       sees a member join, on a member that merged, and on every node as it starts, {@link #quiet(long)} stops new
 *       grants for {@code quiet}, until everything granted before has ended.</li>
 * </ul>
 *
 * <p>The margin covers what the deadlines cannot see: a pause between the last check and a request's first byte,
 * and two machines' clocks running at slightly different rates over one lease (docs/fleet-limits.md).
 */
public final class GrantorLease implements GrantRight {
    private static final Logger log = LoggerFactory.getLogger(GrantorLease.class);

    /** What the hot path reads: one immutable snapshot, replaced after each step. */
    private record State(boolean holding, boolean mayEverSend, long sendUntil, long grantFrom, String grantorMember,
                         boolean grantorReady, long quietUntil, String why) {
    }

    /** Times in nanoseconds; {@code quiet} is the longest any grant made before a change may still count. */
    public record Timing(long leaseNanos, long marginNanos, long quietNanos) {
        public static Timing of(Duration lease, Duration margin, Duration quiet) {
            if (margin.compareTo(lease.dividedBy(2)) >= 0) {
                throw new IllegalArgumentException("the margin (" + margin.toMillis() + " ms) must be less than half the lease ("
                        + lease.toMillis() + " ms)");
            }
            return new Timing(lease.toNanos(), margin.toNanos(), quiet.toNanos());
        }
    }

    private final ArbitrationStore store;
    private final String incarnation;
    private final String node;
    private final Supplier<String> member;
    private final Predicate<String> inView;
    private final Timing timing;
    private final NanoClock clock;
    private final Supplier<String> terms;

    // Changed by step() only (one thread at a time), published through `state`.
    private Arbitration seen;
    private long seenSince;
    private boolean changeBounded;
    private long changedAfter;
    private boolean readBefore;
    private long lastReadSent;
    private String myTerm;
    private long mySeq;
    private long ownSendUntil;
    private long grantFrom;
    private boolean readyConfirmed;
    private long lastWrittenAfter;
    private final long createdAt;
    private volatile long lastAnswered;
    private boolean renewalUnanswered;
    private long unansweredSince;
    /** Terms this node saw replaced (by another term, or by no record): one that shows again is Redis going back. */
    private final SequencedSet<String> replaced = new LinkedHashSet<>();
    private volatile long quietUntil;
    private volatile State state;

    /** This process's monotonic clock, in nanoseconds; tests pass their own. */
    @FunctionalInterface
    public interface NanoClock {
        long nanoTime();
    }

    /**
     * @param incarnation this node process (a new one for every start)
     * @param member      this node's Hazelcast member id now (it changes at a merge)
     * @param inView      whether a Hazelcast member id is in this member's view now
     */
    public GrantorLease(ArbitrationStore store, String incarnation, String node, Supplier<String> member,
                        Predicate<String> inView, Timing timing, NanoClock clock) {
        this(store, incarnation, node, member, inView, timing, clock, () -> UUID.randomUUID().toString());
    }

    GrantorLease(ArbitrationStore store, String incarnation, String node, Supplier<String> member,
                 Predicate<String> inView, Timing timing, NanoClock clock, Supplier<String> terms) {
        this.store = store;
        this.incarnation = incarnation;
        this.node = node;
        this.member = member;
        this.inView = inView;
        this.timing = timing;
        this.clock = clock;
        this.terms = terms;
        long now = clock.nanoTime();
        this.createdAt = now;
        this.lastAnswered = now;
        // A node that starts may be joining a cluster that is about to merge with another, or that another member
        // just merged into: it takes nothing new until what either copy could have granted before has ended.
        this.quietUntil = now + timing.quietNanos();
        this.state = new State(false, false, now, now, "", false, quietUntil, "the grantor lease was not read yet");
    }

    /**
     * One round: renews the lease if this node holds it, reads it otherwise, and takes it when it is absent, ended
     * or stood still for a lease. Call it every {@link #stepEvery()}, from one thread. A Redis failure is thrown
     * after the deadlines were left to run out by themselves.
     */
    public synchronized void step() {
        long sent = clock.nanoTime();
        Arbitration a;
        if (myTerm != null) {
            if (sent - ownSendUntil >= 0 && sent - grantFrom >= 0) {
                // Its own deadline passed (a stall, or Redis out of reach): while it could not renew, Redis may have
                // lost its last renewal and another node may have taken the lease from the older record. It grants
                // again only as a newcomer would, a lease plus the quiet time on.
                grantFrom = sent + timing.leaseNanos() + timing.quietNanos();
                readyConfirmed = false;
                log.warn("this node's grantor lease {} lapsed before it was renewed; it grants again in {} ms",
                        myTerm, (grantFrom - sent) / 1_000_000);
            }
            try {
                a = store.renew(incarnation, myTerm, mySeq, member.get(), sent - grantFrom >= 0);
            } catch (RuntimeException e) {
                // It may have run in Redis all the same and moved the count: a later renewal that finds the count
                // moved (its own compare-and-set then changes nothing) must not date the move from its own send.
                if (!renewalUnanswered) {
                    renewalUnanswered = true;
                    unansweredSince = sent;
                }
                throw e;
            }
        } else {
            a = store.read();
        }
        long answered = clock.nanoTime();
        lastAnswered = answered;
        observe(sent, answered, a);
        if (shouldTake(answered)) {
            take();
        }
        publish(clock.nanoTime());
    }

    /**
     * How often {@link #step()} should run: a sixth of the lease, so that a reader's right to send lasts from one
     * renewal it sees to the next with a quarter of the lease to spare for scheduling jitter (see the class comment).
     */
    public Duration stepEvery() {
        return Duration.ofNanos(timing.leaseNanos() / 6);
    }

    /** Gives the lease up after a graceful drain: the next holder may grant at once. */
    public synchronized void end() {
        if (myTerm == null) {
            return;
        }
        try {
            store.end(incarnation, myTerm);
            log.info("grantor lease {} ended (graceful stop)", myTerm);
        } catch (RuntimeException e) {
            log.warn("could not end the grantor lease {}; the next holder takes it over after a lease", myTerm, e);
        }
        myTerm = null;
        renewalUnanswered = false;
        ownSendUntil = clock.nanoTime();
        newcomer();
        publish(ownSendUntil);
    }

    /** A member joined, or this member merged after a split: no new grants for {@code quiet}. */
    public void quiet(long nowNanos) {
        long until = nowNanos + timing.quietNanos();
        synchronized (this) {
            if (until - quietUntil > 0) {
                quietUntil = until;
            }
            State s = state;
            state = new State(s.holding(), s.mayEverSend(), s.sendUntil(), s.grantFrom(), s.grantorMember(),
                    s.grantorReady(), quietUntil, s.why());
        }
        log.info("cluster membership grew or merged: no new Hub capacity is granted on this node for {} ms, until "
                + "everything granted before has ended", timing.quietNanos() / 1_000_000);
    }

    private void observe(long sent, long answered, Arbitration a) {
        if (myTerm != null) {
            if (a.heldBy(incarnation, myTerm) && a.seq() == mySeq + 1) {
                // The count moved once since this node's last acknowledged renewal: by this renewal, or by an earlier
                // one whose answer was lost (this one then changed nothing). Readers may have seen it from the
                // earliest of those on, so the deadline runs from that one's send; and the record says whether the
                // renewal that wrote it was sent after the wait.
                long writtenAfter = renewalUnanswered ? unansweredSince : sent;
                renewalUnanswered = false;
                mySeq = a.seq();
                // Never later than the previous renewal's send plus the lease plus the margin: if Redis loses this
                // renewal, a node that first saw the previous one takes over no earlier than that.
                ownSendUntil = earlier(writtenAfter + timing.leaseNanos() - timing.marginNanos(),
                        lastWrittenAfter + timing.leaseNanos() + timing.marginNanos());
                lastWrittenAfter = writtenAfter;
                if (a.ready()) {
                    readyConfirmed = true;
                }
            } else {
                String why = a.heldBy(incarnation, myTerm)
                        ? "its renewal count is " + a.seq() + " where this node's last was " + mySeq + " (Redis lost writes)"
                        : "Redis now shows " + a;
                log.warn("lost the grantor lease {}: {}; no Hub calls until it is settled again", myTerm, why);
                if (!a.term().equals(myTerm)) {
                    replaced(myTerm);
                }
                myTerm = null;
                renewalUnanswered = false;
                ownSendUntil = answered;
                newcomer();
            }
        }
        if (!a.sameAs(seen)) {
            if (seen != null && !seen.absent() && !seen.term().equals(a.term())) {
                replaced(seen.term());
            }
            // A record whose count did not grow, or whose term was replaced before, is one Redis went back to (a
            // restart from an older snapshot, a failover to a replica that lagged): it was written before the last
            // read, not after, and nodes that saw it long ago may take it over soon. It is trusted once it is seen
            // to move again.
            boolean wentBack = !a.absent() && (seen != null && !seen.absent() && a.seq() - seen.seq() <= 0
                    || replaced.contains(a.term()));
            changeBounded = readBefore && !wentBack;
            changedAfter = lastReadSent;
            seen = a;
            seenSince = answered;
        }
        readBefore = true;
        lastReadSent = sent;
    }

    /** The earlier of two {@code nanoTime} instants (compared by difference, as the clock may wrap). */
    private static long earlier(long a, long b) {
        return a - b <= 0 ? a : b;
    }

    private void replaced(String term) {
        replaced.addLast(term);
        if (replaced.size() > 64) {
            Iterator<String> oldest = replaced.iterator();
            oldest.next();
            oldest.remove();
        }
    }

    /** Trusts nothing it read before: the record must be seen to move again (two reads) before this node sends. */
    private void newcomer() {
        readBefore = false;
        changeBounded = false;
        seen = null;
    }

    private boolean shouldTake(long now) {
        if (myTerm != null || seen == null) {
            return false;
        }
        return seen.absent() || seen.ended() || now - seenSince - timing.leaseNanos() - timing.marginNanos() >= 0;
    }

    private void take() {
        Arbitration before = seen;
        String term = terms.get();
        long sent = clock.nanoTime();
        Arbitration after = store.take(before, incarnation, member.get(), node, term);
        long answered = clock.nanoTime();
        if (!after.heldBy(incarnation, term)) {
            observe(sent, answered, after);
            return;
        }
        myTerm = term;
        mySeq = after.seq();
        readyConfirmed = false;
        renewalUnanswered = false;
        ownSendUntil = sent + timing.leaseNanos() - timing.marginNanos();
        lastWrittenAfter = sent;
        long wait;
        String because;
        if (before.absent() || before.ended()) {
            // Nodes that read the last renewal before the record was lost or ended may grant until a lease after it;
            // what they grant then is in their copy of the store only, if the cluster splits meanwhile.
            wait = timing.leaseNanos() + timing.quietNanos();
            because = before.absent() ? "no lease was recorded (a fresh fleet, or Redis lost data)"
                    : "the last holder ended its lease";
        } else {
            wait = timing.quietNanos();
            because = "the last holder (" + before + ") stopped renewing";
        }
        grantFrom = sent + wait;
        log.info("this node holds the fleet's grantor lease {}: {}; it grants Hub capacity in {} ms", term, because,
                wait / 1_000_000);
        seen = after;
        seenSince = answered;
        lastReadSent = sent;
    }

    private void publish(long now) {
        boolean holding = myTerm != null;
        long sendUntil;
        boolean mayEverSend;
        String why;
        if (holding) {
            sendUntil = ownSendUntil;
            mayEverSend = true;
            why = "";
        } else if (seen == null || seen.absent()) {
            sendUntil = now;
            mayEverSend = false;
            why = "no grantor lease is recorded in Redis yet";
        } else if (!changeBounded) {
            sendUntil = now;
            mayEverSend = false;
            why = "the grantor lease (" + seen + ") has not been seen renewed yet";
        } else {
            sendUntil = changedAfter + timing.leaseNanos() - timing.marginNanos();
            mayEverSend = true;
            why = seen.ended() ? "the grantor (node " + seen.node() + ") ended its lease; waiting for the next holder"
                    : "";
        }
        state = new State(holding, mayEverSend, sendUntil, grantFrom, seen == null ? "" : seen.member(),
                holding ? readyConfirmed : seen != null && seen.ready() && !seen.ended(), quietUntil, why);
    }

    @Override
    public boolean mayGrant(long nowNanos) {
        return whyNot(nowNanos).isEmpty();
    }

    @Override
    public boolean waiting(long nowNanos) {
        State s = state;
        if (!s.why().isEmpty()) {
            // Not read yet, not seen renewed yet, absent or ended: settled within a step or two while Redis answers.
            return nowNanos - createdAt - timing.leaseNanos() - timing.marginNanos() < 0
                    || nowNanos - lastAnswered - 2 * stepEvery().toNanos() < 0;
        }
        if (!maySend(nowNanos)) {
            return false;
        }
        if (nowNanos - s.quietUntil() < 0) {
            return true;
        }
        if (s.holding()) {
            return nowNanos - s.grantFrom() < 0 || !s.grantorReady();
        }
        return !s.grantorReady();
    }

    @Override
    public boolean maySend(long nowNanos) {
        State s = state;
        return s.mayEverSend() && nowNanos - s.sendUntil() < 0;
    }

    @Override
    public String whyNot(long nowNanos) {
        State s = state;
        if (!s.why().isEmpty()) {
            return s.why();
        }
        if (!maySend(nowNanos)) {
            return s.holding()
                    ? "this node's grantor lease was not renewed in time (Redis unreachable or refusing writes, or this "
                    + "process stalled)"
                    : "the grantor lease was not seen renewed within the lease (Redis unreachable, or the grantor "
                    + "stopped renewing)";
        }
        if (nowNanos - s.quietUntil() < 0) {
            return "no new grants for " + (s.quietUntil() - nowNanos) / 1_000_000 + " ms after this node started, a member "
                    + "joined or this member merged (what was granted before must end first)";
        }
        if (s.holding()) {
            if (nowNanos - s.grantFrom() < 0) {
                return "this node holds the grantor lease and waits " + (s.grantFrom() - nowNanos) / 1_000_000
                        + " ms for what an earlier holder may have granted to end";
            }
            return s.grantorReady() ? "" : "this node holds the grantor lease and waits for a renewal sent after its wait "
                    + "to be confirmed (a takeover Redis lost must not grant)";
        }
        if (!s.grantorReady()) {
            return "the grantor is waiting for what an earlier holder may have granted to end";
        }
        if (!inView.test(s.grantorMember())) {
            return "the grantor is not in this member's view of the cluster: the other side grants";
        }
        return "";
    }

    @Override
    public String describe() {
        Arbitration a = seen();
        return (holding() ? "this node holds the " : "") + (a == null ? "grantor lease not read yet" : a.toString());
    }

    /** Whether this node holds the lease now (for status). */
    public boolean holding() {
        return state.holding();
    }

    /** The lease as last read (for status); null before the first read. */
    public synchronized Arbitration seen() {
        return seen;
    }
}
