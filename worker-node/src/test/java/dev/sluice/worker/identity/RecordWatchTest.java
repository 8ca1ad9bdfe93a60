package dev.sluice.worker.identity;

import dev.sluice.worker.identity.RecordWatch.Reading;
import dev.sluice.worker.identity.RecordWatch.Verdict;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** The standing-still rule, on a clock the test moves. */
class RecordWatchTest {

    private static final Duration LEASE = Duration.ofSeconds(6);
    private final AtomicLong now = new AtomicLong(42);
    private final RecordWatch watch = new RecordWatch(LEASE, now::get);

    private static Reading record(String incarnation, long seq) {
        return new Reading(incarnation, Long.toString(seq), Long.toString(LEASE.toMillis()));
    }

    @Test
    void aRecordStandsStillOnlyAfterAFullLeaseWithoutMoving() {
        assertThat(watch.observe("n", record("a", 3))).isEqualTo(Verdict.MOVED);
        now.addAndGet(LEASE.toNanos() - 1);
        assertThat(watch.observe("n", record("a", 3))).isEqualTo(Verdict.STILL);
        assertThat(watch.remaining("n")).isEqualTo(Duration.ofNanos(1));
        now.addAndGet(1);
        assertThat(watch.observe("n", record("a", 3))).isEqualTo(Verdict.STOOD_STILL);
        assertThat(watch.remaining("n")).isZero();
    }

    @Test
    void aRenewalOrANewIncarnationStartsTheClockAgain() {
        watch.observe("n", record("a", 3));
        now.addAndGet(LEASE.toNanos() - 1);
        assertThat(watch.observe("n", record("a", 4))).isEqualTo(Verdict.MOVED);
        now.addAndGet(LEASE.toNanos() - 1);
        assertThat(watch.observe("n", record("a", 4))).isEqualTo(Verdict.STILL);
        assertThat(watch.observe("n", record("b", 4))).as("another process took the id").isEqualTo(Verdict.MOVED);
        now.addAndGet(LEASE.toNanos());
        assertThat(watch.observe("n", record("b", 4))).isEqualTo(Verdict.STOOD_STILL);
    }

    @Test
    void anAbsentRecordSaysSoAndIsWatchedAfreshWhenItComesBack() {
        watch.observe("n", record("a", 3));
        now.addAndGet(LEASE.toNanos());
        assertThat(watch.observe("n", new Reading(null, null, null))).isEqualTo(Verdict.ABSENT);
        assertThat(watch.observe("n", record("a", 3))).isEqualTo(Verdict.MOVED);
    }

    @Test
    void aHolderOnALongerLeaseIsGivenItsOwnLeaseNeverAShorterOne() {
        Reading longer = new Reading("a", "1", "20000");
        watch.observe("slow", longer);
        now.addAndGet(LEASE.toNanos());
        assertThat(watch.observe("slow", longer)).isEqualTo(Verdict.STILL);
        assertThat(watch.leaseOf("slow")).isEqualTo(Duration.ofSeconds(20));
        now.addAndGet(Duration.ofSeconds(14).toNanos());
        assertThat(watch.observe("slow", longer)).isEqualTo(Verdict.STOOD_STILL);

        Reading shorter = new Reading("b", "1", "300");
        watch.observe("fast", shorter);
        now.addAndGet(Duration.ofMillis(300).toNanos());
        assertThat(watch.observe("fast", shorter)).as("judged on this node's lease").isEqualTo(Verdict.STILL);
        Reading unreadable = new Reading("c", "1", "soon");
        watch.observe("odd", unreadable);
        now.addAndGet(LEASE.toNanos());
        assertThat(watch.observe("odd", unreadable)).isEqualTo(Verdict.STOOD_STILL);
    }

    @Test
    void nodesNoLongerAskedAboutAreForgotten() {
        watch.observe("kept", record("a", 1));
        watch.observe("dropped", record("b", 1));
        now.addAndGet(LEASE.toNanos());
        watch.retainOnly(List.of("kept"));
        assertThat(watch.observe("kept", record("a", 1))).isEqualTo(Verdict.STOOD_STILL);
        assertThat(watch.observe("dropped", record("b", 1))).as("its clock starts again").isEqualTo(Verdict.MOVED);
    }
}
