package dev.sluice.worker.limits.live;

import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.pool.OwnConnection;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The fleet's limits record on a real Redis: seeding, compare-and-set, versions that only go up, bad contents. */
class LimitsRecordTest {
    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().flushBeforeEach(true).build();

    private final LimitsRecord record = new LimitsRecord("record-test");

    private OwnConnection own(RedisConnections connections) {
        return new OwnConnection(connections, "leases");
    }

    @Test
    void aFileSeedsTheRecordOnlyWhenThereIsNone() {
        try (RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections)) {
            FleetLimits first = record.readOrSeed(own, 100, 10, "node-a");
            assertThat(first.maxPerSecond()).isEqualTo(100);
            assertThat(first.seeded()).isTrue();
            assertThat(first.changedBy()).isEqualTo("config of node-a");
            FleetLimits second = record.readOrSeed(own, 500, 50, "node-b");
            assertThat(second).as("a second file does not overwrite it").isEqualTo(first);
        }
    }

    @Test
    void changesAreCompareAndSetAndVersionsOnlyGoUpEvenWhenRedisLosesTheRecord() {
        try (Jedis j = redis.server().newJedis()) {
            LimitsRecord.Change none = record.set(j, 0L, 10, 2, "alice");
            assertThat(none.applied()).as("expecting no record, and there is none").isTrue();
            long v1 = none.record().version();
            LimitsRecord.Change stale = record.set(j, 0L, 20, 2, "bob");
            assertThat(stale.applied()).as("expecting no record, but there is one").isFalse();
            assertThat(stale.record().version()).isEqualTo(v1);
            LimitsRecord.Change moved = record.set(j, v1 - 1, 20, 2, "bob");
            assertThat(moved.applied()).isFalse();
            assertThat(moved.record().changedBy()).isEqualTo("alice");
            LimitsRecord.Change ok = record.set(j, v1, 20, 3, "bob");
            assertThat(ok.applied()).isTrue();
            assertThat(ok.record().version()).isGreaterThan(v1);
            assertThat(record.read(j)).isEqualTo(ok.record());
            // Several changes within one millisecond still get versions that go up.
            long last = ok.record().version();
            for (int i = 0; i < 20; i++) {
                long v = record.set(j, null, 30 + i, 3, "carol").record().version();
                assertThat(v).isGreaterThan(last);
                last = v;
            }
            j.del(record.key());
            assertThat(record.read(j)).isNull();
            assertThat(record.set(j, null, 5, 1, "dave").record().version())
                    .as("Redis lost the record: its next version is Redis's time, later than the versions before")
                    .isGreaterThanOrEqualTo(v1);
        }
    }

    @Test
    void badValuesAreRefusedBeforeAnythingIsWritten() {
        try (Jedis j = redis.server().newJedis()) {
            assertThatThrownBy(() -> record.set(j, null, 0, 5, "x"))
                    .hasMessage("requests per second must be between 1 and 1000000, but was 0");
            assertThatThrownBy(() -> record.set(j, null, 5, 10_001, "x"))
                    .hasMessage("requests in flight must be between 1 and 10000, but was 10001");
            assertThatThrownBy(() -> record.set(j, null, 5, 5, " ")).hasMessageContaining("must be named");
            assertThat(j.exists(record.key())).isFalse();
        }
    }

    @Test
    void aRecordEditedByHandIntoNonsenseIsReportedAndTheNodeKeepsWhatItFollows() {
        try (TestFleet fleet = TestFleet.start(1);
             RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections);
             Jedis j = redis.server().newJedis()) {
            FleetHubLimiter limiter = fleet.limiter(0, TestFleet.settings(10, 100, Duration.ofSeconds(6),
                    FleetHubLimiter.OnStoreFailure.FAIL_CLOSED));
            List<Object> events = new ArrayList<>();
            LimitsFollower follower = new LimitsFollower(record, limiter, 100, 10, "node-0", events::add, System::nanoTime);
            follower.step(own);
            assertThat(events).as("nothing published before the node announces its start").isEmpty();
            follower.startAnnouncing();
            long seeded = follower.current().version();
            j.hset(record.key(), "rps", "lots");
            follower.step(own);
            assertThat(follower.status().get("problem")).asString()
                    .contains("has rps = 'lots', which is not a whole number between 1 and 1000000");
            assertThat(follower.current().version()).isEqualTo(seeded);
            assertThat(limiter.settings().maxPerSecond()).isEqualTo(100);

            // Redis went back to an older copy: the node issues the older values again as a newer version.
            record.set(j, null, 50, 5, "alice");
            follower.step(own);
            long newer = follower.current().version();
            assertThat(limiter.settings().maxPerSecond()).isEqualTo(50);
            j.hset(record.key(), java.util.Map.of("version", Long.toString(seeded), "rps", "70", "in_flight", "7",
                    "by", "old copy"));
            follower.step(own);
            assertThat(follower.current().version()).isGreaterThan(newer);
            assertThat(follower.current().maxPerSecond()).isEqualTo(70);
            assertThat(follower.current().changedBy()).contains("the record went back from version " + newer);
            assertThat(limiter.settings().maxPerSecond()).isEqualTo(70);
            assertThat(limiter.limitsVersion()).isEqualTo(follower.current().version());
            assertThat(events).hasSize(3);
        }
    }
}
