package dev.sluice.coordinator.dashboard;

import dev.sluice.control.Backfills;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class BackfillProgressTest {

    private static final long T0 = 1_800_000_000_000L;

    private static Backfills.Backfill backfill(String state, long total, long done, long dead) {
        return new Backfills.Backfill("b-1", state, "alice", T0, total, done, dead, 0, 0);
    }

    private static void read(BackfillProgress p, long atMs, Backfills.Backfill... backfills) {
        p.observe(new Backfills.Reading(atMs, List.of(backfills)));
    }

    @Test
    void theTimeToDrainIsWhatIsLeftOverTheNetRateOfTheWindowOnRedissClock() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        read(p, T0, backfill("complete", 5_000, 0, 0));
        assertThat(p.estimate(backfill("complete", 5_000, 0, 0)).text()).isEqualTo("5000 left; measuring the rate");
        read(p, T0 + 10_000, backfill("complete", 5_000, 900, 100));
        BackfillProgress.Estimate e = p.estimate(backfill("complete", 5_000, 900, 100));
        assertThat(e.jobsPerSec()).isEqualTo(100.0);
        assertThat(e.etaSecs()).isEqualTo(40L);
        assertThat(e.text()).isEqualTo("about 40 s at 100.0 jobs/s");
    }

    @Test
    void theRateForgetsWhatIsOlderThanTheWindow() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        // Fast for two minutes, then slow: the estimate follows the last minute only.
        long ended = 0;
        for (int s = 0; s <= 120; s += 5) {
            read(p, T0 + s * 1000L, backfill("complete", 1_000_000, ended, 0));
            ended += 5_000;
        }
        for (int s = 125; s <= 240; s += 5) {
            ended += 50;
            read(p, T0 + s * 1000L, backfill("complete", 1_000_000, ended, 0));
        }
        assertThat(p.estimate(backfill("complete", 1_000_000, ended, 0)).jobsPerSec()).isEqualTo(10.0);
    }

    @Test
    void replayedDeadLettersDrainNetSoTheRateCanBeZero() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        read(p, T0, backfill("complete", 100, 50, 10));
        read(p, T0 + 20_000, backfill("complete", 100, 50, 10));
        assertThat(p.estimate(backfill("complete", 100, 50, 10)).text())
                .isEqualTo("40 left; not draining: none ended in the last 20 s");
        read(p, T0 + 40_000, new Backfills.Backfill("b-1", "complete", "alice", T0, 100, 55, 0, 10, 0));
        assertThat(p.estimate(new Backfills.Backfill("b-1", "complete", "alice", T0, 100, 55, 0, 10, 0)).jobsPerSec())
                .as("10 letters replayed, 5 ended: net -5, shown as 0").isZero();
    }

    @Test
    void anEnqueueStillRunningOrStoppedIsSaidFirstAndAFinishedBackfillSaysSo() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        read(p, T0, backfill("enqueuing", 3_000, 0, 0));
        read(p, T0 + 5_000, backfill("enqueuing", 5_000, 500, 0));
        assertThat(p.estimate(backfill("enqueuing", 5_000, 500, 0)).text())
                .isEqualTo("enqueue running (5000 so far); about 45 s at 100.0 jobs/s");
        assertThat(p.estimate(backfill("stopped", 5_000, 500, 0)).text())
                .startsWith("enqueue stopped after 5000 jobs; about 45 s");
        assertThat(p.estimate(backfill("complete", 5_000, 4_990, 10)).text())
                .isEqualTo("done: 4990 of 5000 jobs, 10 dead-lettered");
        assertThat(p.estimate(backfill("complete", 5_000, 4_990, 10)).etaSecs()).isZero();
    }

    @Test
    void readingsLessThanASecondApartAreNotKeptAndAClockGoingBackStartsTheRateAgain() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        read(p, T0, backfill("complete", 1_000, 0, 0));
        for (int ms = 100; ms < 1_000; ms += 100) {
            read(p, T0 + ms, backfill("complete", 1_000, 999, 0)); // a busy page: not kept
        }
        read(p, T0 + 4_000, backfill("complete", 1_000, 400, 0));
        assertThat(p.estimate(backfill("complete", 1_000, 400, 0)).jobsPerSec()).isEqualTo(100.0);
        read(p, T0 - 60_000, backfill("complete", 1_000, 450, 0));
        assertThat(p.estimate(backfill("complete", 1_000, 450, 0)).text()).isEqualTo("550 left; measuring the rate");
    }

    @Test
    void aStoppedEnqueueSaysHowManyJobsMayNotHaveGoneIn() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        Backfills.Backfill stopped = new Backfills.Backfill("b-1", "stopped", "alice", T0, 3_000, 2_000, 0, 0, 1_000);
        read(p, T0, stopped);
        assertThat(p.estimate(stopped).text())
                .startsWith("enqueue stopped after 3000 jobs (up to 1000 of them may not have gone in); ");
        assertThat(stopped.over()).isTrue();
        assertThat(stopped.finished()).isFalse();
    }

    @Test
    void aBackfillNoLongerListedIsForgotten() {
        BackfillProgress p = new BackfillProgress(Duration.ofMinutes(1));
        read(p, T0, backfill("complete", 100, 0, 0));
        read(p, T0 + 10_000, backfill("complete", 100, 50, 0));
        read(p, T0 + 20_000);
        read(p, T0 + 30_000, backfill("complete", 100, 60, 0));
        assertThat(p.estimate(backfill("complete", 100, 60, 0)).text()).isEqualTo("40 left; measuring the rate");
    }
}
