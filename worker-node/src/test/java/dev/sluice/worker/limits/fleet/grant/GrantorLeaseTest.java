package dev.sluice.worker.limits.fleet.grant;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The grantor lease's rules on a fake clock: who may grant and until when, case by case. Each node has its own view
 * of the cluster; the store is the record's compare-and-set semantics in memory.
 */
class GrantorLeaseTest {
    private static final long MS = 1_000_000L;
    private static final Duration LEASE = Duration.ofMillis(6_000);
    private static final Duration MARGIN = Duration.ofMillis(1_500);
    private static final Duration QUIET = Duration.ofMillis(6_000);
    private static final long STEP = LEASE.toNanos() / 3;

    private final MemoryArbitrationStore store = new MemoryArbitrationStore();
    private final long[] now = {1_000_000_000_000L};
    private final AtomicInteger terms = new AtomicInteger();

    private final class Node {
        final String id;
        final Set<String> view = new HashSet<>();
        final GrantorLease lease;

        Node(String id) {
            this.id = id;
            this.view.add(id);
            this.lease = new GrantorLease(store, id + "-inc", id, () -> id, view::contains,
                    GrantorLease.Timing.of(LEASE, MARGIN, QUIET), () -> now[0], () -> "term-" + terms.incrementAndGet());
        }

        boolean mayGrant() {
            return lease.mayGrant(now[0]);
        }

        boolean maySend() {
            return lease.maySend(now[0]);
        }

        void step() {
            lease.step();
        }
    }

    private void sees(Node a, Node b) {
        a.view.add(b.id);
        b.view.add(a.id);
    }

    private void split(Node a, Node b) {
        a.view.remove(b.id);
        b.view.remove(a.id);
    }

    private void advance(long nanos) {
        now[0] += nanos;
    }

    /** Advances in steps of a third of a lease, every listed node taking its step each time. */
    private void run(long nanos, Node... nodes) {
        for (long t = 0; t < nanos; t += STEP) {
            advance(STEP);
            for (Node n : nodes) {
                try {
                    n.step();
                } catch (IllegalStateException unreachable) {
                    // an unreachable store: the node's deadlines run out by themselves
                }
            }
        }
    }

    /** Nodes that see each other, past a fresh fleet's wait: the first holds the lease and all may grant. */
    private Node[] granting(String... ids) {
        Node[] nodes = new Node[ids.length];
        for (int i = 0; i < ids.length; i++) {
            nodes[i] = new Node(ids[i]);
            for (int k = 0; k < i; k++) {
                sees(nodes[k], nodes[i]);
            }
        }
        for (Node n : nodes) {
            n.step();
        }
        run(LEASE.toNanos() + QUIET.toNanos() + 2 * STEP, nodes);
        for (Node n : nodes) {
            assertThat(n.mayGrant()).as("node %s after a fresh fleet's wait", n.id).isTrue();
        }
        return nodes;
    }

    @Test
    void aNodeTakesNothingNewForTheQuietTimeAfterItStarts() {
        Node a = granting("a")[0];
        Node b = new Node("b");
        sees(a, b);
        run(2 * STEP, a, b);
        assertThat(b.lease.whyNot(now[0])).contains("no new grants");
        run(QUIET.toNanos(), a, b);
        assertThat(b.mayGrant()).isTrue();
    }

    @Test
    void aFreshFleetGrantsNothingForALeasePlusQuietThenTheHolderAndItsSideGrant() {
        Node a = new Node("a");
        Node b = new Node("b");
        sees(a, b);
        assertThat(a.mayGrant()).as("before any read").isFalse();
        a.step();
        b.step();
        assertThat(a.lease.holding()).isTrue();
        assertThat(b.lease.holding()).isFalse();
        assertThat(a.mayGrant()).as("the new holder waits: someone lost with the record may still be sending").isFalse();
        assertThat(a.lease.whyNot(now[0])).isNotEmpty();
        run(LEASE.toNanos() + QUIET.toNanos() - STEP, a, b);
        assertThat(a.mayGrant()).as("just before a lease plus quiet").isFalse();
        run(2 * STEP, a, b);
        assertThat(a.mayGrant()).as("after a lease plus quiet").isTrue();
        run(STEP, a, b);
        assertThat(b.mayGrant()).as("a node of the holder's side, once it saw the holder ready and renewing").isTrue();
    }

    @Test
    void anEndedLeaseIsTakenAtOnceAndGrantedFromAfterALeasePlusQuiet() {
        Node[] fleet = granting("a", "b");
        Node a = fleet[0];
        Node b = fleet[1];
        a.lease.end();
        assertThat(a.maySend()).as("a holder that ended its lease sends nothing more").isFalse();
        b.step();
        assertThat(b.lease.holding()).isTrue();
        assertThat(b.mayGrant()).as("nodes that read the last renewal may grant until a lease after it").isFalse();
        run(LEASE.toNanos() + QUIET.toNanos() + STEP, b);
        assertThat(b.mayGrant()).isTrue();
    }

    @Test
    void aTakeoverRedisLostNeverGrantsAndTheTwoSidesNeverGrantTogether() {
        Node[] fleet = granting("a", "b");
        Node a = fleet[0];
        Node b = fleet[1];
        split(a, b);
        Arbitration aHeld = store.peek();
        // a stalls (no step) while b watches its record stand still and takes the lease over.
        while (!b.lease.holding()) {
            advance(STEP);
            b.step();
        }
        store.restore(aHeld); // Redis restarts and loses the takeover
        for (int i = 0; i < 60; i++) {
            advance(STEP / 2);
            a.step();
            b.step();
            assertThat(a.mayGrant() && b.mayGrant()).as("both sides granting at step %d", i).isFalse();
        }
        assertThat(a.mayGrant() || b.mayGrant()).as("one side grants again in the end").isTrue();
    }

    @Test
    void aRenewalNeverWritesForwardFromACountRedisWentBackTo() {
        Node a = granting("a")[0];
        Arbitration before = store.peek();
        advance(STEP);
        a.step();
        store.restore(before); // the last renewal is lost
        advance(STEP);
        a.step();
        assertThat(store.peek().seq()).as("the count readers may have seen is not written again")
                .isEqualTo(before.seq());
        assertThat(a.maySend()).isFalse();
    }

    @Test
    void aCountMovedByARenewalWhoseAnswerWasLostIsDatedFromThatRenewalNotFromTheNextOne() {
        Node[] fleet = granting("a", "b");
        Node a = fleet[0];
        Node b = fleet[1];
        split(a, b);
        advance(STEP);
        store.loseAnswers = true; // a's renewal runs in Redis and moves the count; a never hears of it
        assertThatThrownBy(a::step).isInstanceOf(IllegalStateException.class);
        store.loseAnswers = false;
        long lostRenewalSent = now[0];
        // a cannot reach Redis for a while; b watches the count the lost renewal wrote stand still. Just before b takes
        // the lease over, a's renewal gets through: its compare-and-set changes nothing and shows that count.
        for (int i = 1; i <= 5; i++) {
            advance(STEP);
            if (i == 5) {
                assertThat(b.lease.holding()).isFalse();
                a.step();
                assertThat(a.lease.holding()).as("the count is a's own, one past its last").isTrue();
                assertThat(a.maySend()).as("dated from the lost renewal: its deadline passed long ago").isFalse();
            } else {
                store.down = true;
                assertThatThrownBy(a::step).isInstanceOf(IllegalStateException.class);
                store.down = false;
            }
            b.step();
        }
        assertThat(b.lease.holding()).as("b took the lease over").isTrue();
        long aLastSend = lostRenewalSent;
        long bFirstGrant = -1;
        for (int i = 0; i < 200; i++) {
            advance(100 * MS);
            if (i % 20 == 0) {
                a.step();
                b.step();
            }
            if (a.lease.holding() && a.maySend()) { // later a may send as a reader of b's lease, on b's side
                aLastSend = now[0];
            }
            if (bFirstGrant < 0 && b.mayGrant()) {
                bFirstGrant = now[0];
            }
        }
        assertThat(a.lease.holding()).isFalse();
        assertThat(bFirstGrant).as("b grants in the end").isPositive();
        assertThat(bFirstGrant - aLastSend).as("b's first grant comes the quiet time after a's last possible send")
                .isGreaterThanOrEqualTo(QUIET.toNanos());
        assertThat(lostRenewalSent + LEASE.toNanos() - MARGIN.toNanos() - aLastSend).isNotNegative();
    }

    @Test
    void aReaderThatSeesTheRecordGoBackToAnOlderTermTrustsItOnlyOnceItMovesAgain() {
        Node[] fleet = granting("a", "b", "c");
        Node a = fleet[0];
        Node b = fleet[1];
        Node c = fleet[2];
        split(a, b);
        split(b, c); // b alone; c still sees a
        Arbitration aHeld = store.peek();
        // a stalls (no step) while b takes the lease over, waits, confirms and grants; c reads every step.
        for (int i = 0; i < 40 && !b.mayGrant(); i++) {
            advance(STEP);
            b.step();
            c.step();
        }
        assertThat(b.mayGrant()).isTrue();
        store.restore(aHeld); // Redis restarts from a snapshot taken before b's takeover; b cannot reach it now
        for (int i = 0; i < 40; i++) {
            advance(STEP / 2);
            c.step();
            assertThat(c.maySend() && !c.lease.holding()).as("c trusts the term Redis went back to, step %d", i)
                    .isFalse();
            assertThat(b.mayGrant() && c.mayGrant()).as("both sides granting at step %d", i).isFalse();
        }
        assertThat(c.lease.holding()).as("a's old term stood still: c took it over").isTrue();
        assertThat(c.mayGrant()).as("and grants after its wait").isTrue();
    }

    @Test
    void aTermSeenReplacedThatComesBackIsNotTrustedEvenWhenALostRecordRestartedTheCount() {
        Node[] fleet = granting("a", "b", "c");
        Node a = fleet[0];
        Node b = fleet[1];
        Node c = fleet[2];
        run(10 * STEP, a, b, c);
        Arbitration aHeld = store.peek(); // a snapshot with a's term at a high count
        store.lose(); // then Redis loses everything: the next take counts from 1 again
        split(a, b);
        split(b, c); // b alone; a and c together
        for (int i = 0; i < 40 && !b.mayGrant(); i++) {
            advance(STEP);
            b.step(); // b takes the absent record, waits, confirms and grants
            a.step();
            c.step();
        }
        assertThat(b.mayGrant()).isTrue();
        assertThat(aHeld.seq()).as("the old snapshot counts higher than b's term").isGreaterThan(store.peek().seq());
        store.restore(aHeld); // Redis restarts from the old snapshot; b cannot reach it now
        for (int i = 0; i < 6; i++) {
            advance(STEP / 2);
            a.step();
            c.step();
            assertThat(c.maySend() || a.maySend()).as("a term seen replaced is trusted at step %d", i).isFalse();
            assertThat(b.mayGrant() && (a.mayGrant() || c.mayGrant())).as("both sides granting at step %d", i)
                    .isFalse();
        }
    }

    @Test
    void aCrashedHoldersLeaseMovesOnlyAfterItStoodStillAndEverythingItSideCouldSendHasEnded() {
        Node[] fleet = granting("a", "b");
        Node a = fleet[0];
        Node b = fleet[1];
        // a is cut off from Redis but alive and cut off from b too: the worst case of a crash that is not one.
        split(a, b);
        long aLastSend = now[0];
        long bFirstGrant = -1;
        for (int i = 0; i < 200; i++) {
            advance(100 * MS);
            if (i % 20 == 0) {
                store.down = true;
                try {
                    a.step();
                } catch (IllegalStateException unreachable) {
                    // a's renewals fail
                }
                store.down = false;
                b.step();
            }
            if (a.maySend()) {
                aLastSend = now[0];
            }
            if (bFirstGrant < 0 && b.mayGrant()) {
                bFirstGrant = now[0];
            }
        }
        assertThat(b.lease.holding()).as("b took the lease over").isTrue();
        assertThat(bFirstGrant).as("b grants in the end").isPositive();
        assertThat(bFirstGrant - aLastSend).as("b's first grant comes the quiet time after a's last possible send")
                .isGreaterThanOrEqualTo(QUIET.toNanos());
        assertThat(bFirstGrant - aLastSend).as("and not much later")
                .isLessThanOrEqualTo(QUIET.toNanos() + 2 * MARGIN.toNanos() + 2 * STEP);
    }

    @Test
    void aSideWithoutTheGrantorSendsWhatItHoldsButTakesNothingNew() {
        Node[] fleet = granting("a", "b");
        Node a = fleet[0];
        Node b = fleet[1];
        split(a, b);
        b.step();
        assertThat(b.mayGrant()).as("the grantor is across the split").isFalse();
        assertThat(b.lease.whyNot(now[0])).contains("other side grants");
        assertThat(b.maySend()).as("what b holds may still go out").isTrue();
        assertThat(a.mayGrant()).as("the grantor's side goes on").isTrue();
        run(10 * LEASE.toNanos(), a, b);
        assertThat(b.lease.holding()).as("a renews all along, so b never takes the lease").isFalse();
        assertThat(a.mayGrant()).isTrue();
        assertThat(b.mayGrant()).isFalse();
    }

    @Test
    void aHolderThatStallsPastItsLeaseSendsNothingWhenItWakesUp() {
        Node a = granting("a")[0];
        advance(3 * LEASE.toNanos()); // a GC pause: no step ran
        assertThat(a.maySend()).as("no flag says alive: the deadline passed during the pause").isFalse();
        assertThat(a.mayGrant()).isFalse();
    }

    @Test
    void aHolderWhoseRecordRedisLostStopsAtOnceAndComesBackAsANewcomer() {
        Node a = granting("a")[0];
        store.lose();
        advance(STEP);
        a.step();
        assertThat(a.lease.holding()).as("it took a new term").isTrue();
        assertThat(a.mayGrant()).as("but waits as any newcomer: a lease plus quiet").isFalse();
        run(LEASE.toNanos() + QUIET.toNanos() + STEP, a);
        assertThat(a.mayGrant()).isTrue();
        assertThat(store.peek().term()).as("terms never repeat").isNotEqualTo("term-1");
    }

    @Test
    void aHolderWhoseRecordWentBackToAnOlderRenewalFencesItself() {
        Node a = new Node("a");
        a.step();
        Arbitration early = store.peek();
        run(LEASE.toNanos() + QUIET.toNanos() + STEP, a);
        assertThat(a.mayGrant()).isTrue();
        store.restore(early); // Redis restarted from an old snapshot
        advance(STEP);
        a.step();
        assertThat(a.maySend()).as("its renewal count went back: it stops at once").isFalse();
    }

    @Test
    void aHolderWhoseOwnDeadlinePassedGrantsAgainOnlyAsANewcomer() {
        Node a = granting("a")[0];
        advance(LEASE.toNanos()); // stalled past its deadline, no step
        a.step();
        assertThat(a.lease.holding()).as("nobody took it meanwhile: the renewal matched").isTrue();
        assertThat(a.maySend()).isTrue();
        assertThat(a.mayGrant()).as("Redis may have lost its last renewal while it could not renew").isFalse();
        run(LEASE.toNanos() + QUIET.toNanos() + STEP, a);
        assertThat(a.mayGrant()).isTrue();
    }

    @Test
    void aHoldersDeadlineNeverRunsPastItsPreviousRenewalPlusALeaseAndTheMargin() {
        Node a = granting("a")[0];
        advance(STEP);
        long previous = now[0];
        a.step(); // acknowledged, sent at `previous`
        advance(3_600 * MS); // a stall of 3.6 s: more than half a lease, less than its deadline
        a.step(); // acknowledged: alone it would carry the deadline to its send plus a lease minus the margin
        now[0] = previous + LEASE.toNanos() + MARGIN.toNanos() - 1;
        assertThat(a.maySend()).isTrue();
        now[0] = previous + LEASE.toNanos() + MARGIN.toNanos();
        assertThat(a.maySend()).as("a node that first saw the previous renewal may take over from here on").isFalse();
    }

    @Test
    void afterAMergeNothingIsNewlyGrantedForTheQuietTime() {
        Node a = granting("a")[0];
        a.lease.quiet(now[0]);
        assertThat(a.mayGrant()).isFalse();
        assertThat(a.maySend()).as("what it holds still goes").isTrue();
        run(QUIET.toNanos() - STEP, a);
        assertThat(a.mayGrant()).isFalse();
        run(2 * STEP, a);
        assertThat(a.mayGrant()).isTrue();
    }

    @Test
    void aNonHolderNeedsToSeeTheRecordMoveBeforeItTrustsIt() {
        Node a = granting("a")[0];
        Node late = new Node("late");
        sees(a, late);
        run(QUIET.toNanos(), a); // past the quiet time of late's start, before its first read
        late.step();
        assertThat(late.mayGrant()).as("one read cannot tell a live holder from a record left by a dead one").isFalse();
        advance(STEP);
        a.step();
        late.step();
        assertThat(late.mayGrant()).isTrue();
    }

    /**
     * Readers in step with the holder: each read lands a little before or a little after a renewal, as scheduling
     * jitter has it, so one read sees no renewal and the next sees two. At a third of the lease each, the reader lost
     * its right to send for a quarter of a lease in every two steps while the holder renewed on time; at
     * {@link GrantorLease#stepEvery()} it never does.
     */
    @Test
    void aReaderWhoseReadsFallInStepWithTheRenewalsNeverLosesItsRightToSend() {
        for (long jitterMs : new long[]{1, 50, 200}) {
            Node a = new Node("a" + jitterMs);
            Node b = new Node("b" + jitterMs);
            sees(a, b);
            store.lose();
            long every = a.lease.stepEvery().toNanos();
            assertThat(every).isEqualTo(LEASE.toNanos() / 6);
            a.step();
            long start = now[0];
            long nextRenewal = start + every;
            long nextRead = start + every + jitterMs * MS;
            int reads = 1;
            long lost = 0;
            for (long t = start + MS; t - start < 30 * LEASE.toNanos() / 6; t += MS) {
                now[0] = t;
                if (t == nextRenewal) {
                    a.step();
                    nextRenewal += every;
                }
                if (t == nextRead) {
                    b.step();
                    reads++;
                    nextRead = start + (long) reads * every + (reads % 2 == 0 ? -jitterMs : jitterMs) * MS;
                }
                if (t - start > 4 * every && !b.maySend()) {
                    lost += MS;
                }
                assertThat(a.maySend()).isTrue();
            }
            assertThat(lost / MS).as("ms without the right to send, a reader %d ms either side of the renewals", jitterMs)
                    .isZero();
        }
    }

    @Test
    void aMarginOfHalfTheLeaseOrMoreIsRefused() {
        assertThatThrownBy(() -> GrantorLease.Timing.of(LEASE, LEASE.dividedBy(2), QUIET))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("margin");
    }
}
