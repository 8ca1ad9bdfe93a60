package dev.sluice.control;

import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fleet's record on a real Redis: seeding, compare-and-set of the limits, versions that only go up, the pause,
 * the audit stream, bad contents.
 */
class FleetRecordTest {
    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().flushBeforeEach(true).build();

    private final FleetRecord record = new FleetRecord("record-test");

    @Test
    void aFileSeedsTheRecordOnlyWhenThereIsNone() {
        try (Jedis j = redis.server().newJedis()) {
            FleetLimits first = record.readOrSeed(j, 100, 10, "node-a").limits();
            assertThat(first.maxPerSecond()).isEqualTo(100);
            assertThat(first.seeded()).isTrue();
            assertThat(first.changedBy()).isEqualTo("config of node-a");
            FleetLimits second = record.readOrSeed(j, 500, 50, "node-b").limits();
            assertThat(second).as("a second file does not overwrite it").isEqualTo(first);
        }
    }

    @Test
    void changesAreCompareAndSetAndVersionsOnlyGoUpEvenWhenRedisLosesTheRecord() {
        try (Jedis j = redis.server().newJedis()) {
            FleetRecord.Change none = record.setLimits(j, 0L, 10, 2, "alice");
            assertThat(none.applied()).as("expecting no record, and there is none").isTrue();
            long v1 = none.limits().version();
            FleetRecord.Change stale = record.setLimits(j, 0L, 20, 2, "bob");
            assertThat(stale.applied()).as("expecting no record, but there is one").isFalse();
            assertThat(stale.limits().version()).isEqualTo(v1);
            FleetRecord.Change moved = record.setLimits(j, v1 - 1, 20, 2, "bob");
            assertThat(moved.applied()).isFalse();
            assertThat(moved.limits().changedBy()).isEqualTo("alice");
            FleetRecord.Change ok = record.setLimits(j, v1, 20, 3, "bob");
            assertThat(ok.applied()).isTrue();
            assertThat(ok.limits().version()).isGreaterThan(v1);
            assertThat(record.read(j)).isEqualTo(ok.record());
            // Several changes within one millisecond still get versions that go up.
            long last = ok.limits().version();
            for (int i = 0; i < 20; i++) {
                long v = record.setLimits(j, null, 30 + i, 3, "carol").limits().version();
                assertThat(v).isGreaterThan(last);
                last = v;
            }
            j.del(record.key());
            assertThat(record.read(j)).isNull();
            assertThat(record.setLimits(j, null, 5, 1, "dave").limits().version())
                    .as("Redis lost the record: its next version is Redis's time, later than the versions before")
                    .isGreaterThanOrEqualTo(v1);
        }
    }

    @Test
    void badValuesAreRefusedBeforeAnythingIsWritten() {
        try (Jedis j = redis.server().newJedis()) {
            assertThatThrownBy(() -> record.setLimits(j, null, 0, 5, "x"))
                    .hasMessage("requests per second must be between 1 and 1000000, but was 0");
            assertThatThrownBy(() -> record.setLimits(j, null, 5, 10_001, "x"))
                    .hasMessage("requests in flight must be between 1 and 10000, but was 10001");
            assertThatThrownBy(() -> record.setLimits(j, null, 5, 5, " ")).hasMessageContaining("must be named");
            assertThat(j.exists(record.key())).isFalse();
        }
    }

    @Test
    void pauseAndResumeAreIdempotentKeepTheLimitsAndTheirVersionAndAreAudited() {
        try (Jedis j = redis.server().newJedis()) {
            FleetState seeded = record.readOrSeed(j, 100, 10, "node-a");
            assertThat(seeded.pause()).isEqualTo(Pause.NEVER);
            long limitsVersion = seeded.limits().version();

            FleetRecord.Change paused = record.setPaused(j, true, "alice", "Hub maintenance");
            assertThat(paused.applied()).isTrue();
            assertThat(paused.record().pause().paused()).isTrue();
            assertThat(paused.record().pause().by()).isEqualTo("alice");
            assertThat(paused.record().pause().reason()).isEqualTo("Hub maintenance");
            assertThat(paused.record().version()).as("every change moves the record's version").isGreaterThan(limitsVersion);
            assertThat(paused.limits()).as("a pause leaves the limits and their version").isEqualTo(seeded.limits());

            FleetRecord.Change again = record.setPaused(j, true, "bob", "");
            assertThat(again.applied()).as("already paused").isFalse();
            assertThat(again.record().pause().by()).isEqualTo("alice");
            assertThat(again.record().version()).isEqualTo(paused.record().version());

            // A limits change against the limits version still applies while paused: the pause is not the limits.
            FleetRecord.Change limits = record.setLimits(j, limitsVersion, 50, 5, "carol");
            assertThat(limits.applied()).isTrue();
            assertThat(limits.record().pause().paused()).as("a limits change keeps the pause").isTrue();
            assertThat(limits.limits().version()).isGreaterThan(paused.record().version());

            FleetRecord.Change resumed = record.setPaused(j, false, "dave", null);
            assertThat(resumed.applied()).isTrue();
            assertThat(resumed.record().pause().paused()).isFalse();
            assertThat(resumed.limits().version()).isEqualTo(limits.limits().version());
            assertThat(record.read(j)).isEqualTo(resumed.record());

            List<FleetRecord.AuditEntry> audit = record.recentAudit(j, 10);
            assertThat(audit).extracting(FleetRecord.AuditEntry::action)
                    .containsExactly("resume", "set-limits", "pause", "seed-limits");
            assertThat(audit).extracting(FleetRecord.AuditEntry::by)
                    .containsExactly("dave", "carol", "alice", "config of node-a");
            assertThat(audit.get(1).detail()).isEqualTo("50 per second, 5 in flight");
            assertThat(audit.get(2).detail()).isEqualTo("Hub maintenance");
            assertThat(audit.get(0).atMs()).isGreaterThanOrEqualTo(audit.get(3).atMs());
        }
    }

    @Test
    void aPauseBeforeAnyNodeStartedIsKeptAndTheFirstNodeSeedsTheLimitsBesideIt() {
        try (Jedis j = redis.server().newJedis()) {
            FleetRecord.Change paused = record.setPaused(j, true, "alice", "");
            assertThat(paused.limits()).as("no limits yet").isNull();
            FleetState seeded = record.readOrSeed(j, 100, 10, "node-a");
            assertThat(seeded.pause().paused()).as("seeding keeps the pause").isTrue();
            assertThat(seeded.limits().maxPerSecond()).isEqualTo(100);
            assertThat(record.setLimits(j, 0L, 5, 5, "bob").applied())
                    .as("expecting no limits, but a node seeded them").isFalse();
        }
    }

    @Test
    void aPauseFieldEditedByHandIsReportedWithTheKeyTheFieldAndTheRule() {
        try (Jedis j = redis.server().newJedis()) {
            record.readOrSeed(j, 100, 10, "node-a");
            j.hset(record.key(), "paused", "yes");
            assertThatThrownBy(() -> record.read(j)).isInstanceOf(FleetRecord.BadRecord.class)
                    .hasMessageContaining("the fleet's record sluice:limits:fleet:record-test has paused = 'yes', "
                            + "which is not 0 or 1");
            assertThatThrownBy(() -> record.setPaused(j, true, "x".repeat(201), ""))
                    .hasMessageContaining("must be named in 1 to 200 characters");
            assertThatThrownBy(() -> record.setPaused(j, true, "alice", "y".repeat(501)))
                    .hasMessage("the reason for a pause must be at most 500 characters, but was 501");
        }
    }
}
