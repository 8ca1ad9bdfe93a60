package dev.sluice.worker.limits.live;

import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.control.FleetRecord;
import dev.sluice.control.Pause;
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

/** A node following the fleet's record on a real Redis: bad contents, a record that went back, the pause. */
class LimitsFollowerTest {
    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().flushBeforeEach(true).build();

    private final FleetRecord record = new FleetRecord("record-test");

    private OwnConnection own(RedisConnections connections) {
        return new OwnConnection(connections, "leases");
    }

    @Test
    void aRecordEditedByHandIntoNonsenseIsReportedAndTheNodeKeepsWhatItFollows() {
        try (TestFleet fleet = TestFleet.start(1);
             RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections);
             Jedis j = redis.server().newJedis()) {
            FleetHubLimiter limiter = fleet.limiter(0, TestFleet.settings(10, 100, Duration.ofSeconds(6),
                    StoreFailurePolicy.FAIL_CLOSED));
            List<Object> events = new ArrayList<>();
            List<Pause> pauses = new ArrayList<>();
            LimitsFollower follower = new LimitsFollower(record, limiter, 100, 10, "node-0", events::add, pauses::add, System::nanoTime);
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
            record.setLimits(j, null, 50, 5, "alice");
            follower.step(own);
            long newer = follower.current().version();
            assertThat(limiter.settings().maxPerSecond()).isEqualTo(50);
            j.hset(record.key(), java.util.Map.of("version", Long.toString(seeded), "limits_version", Long.toString(seeded), "rps", "70", "in_flight", "7",
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

    @Test
    void aNodeWithoutAFleetLimiterFollowsThePauseAndEveryNodeSaysItOnce() {
        try (RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections);
             Jedis j = redis.server().newJedis()) {
            List<Object> events = new ArrayList<>();
            List<Pause> pauses = new ArrayList<>();
            LimitsFollower follower = new LimitsFollower(record, null, 100, 10, "node-0", events::add, pauses::add,
                    System::nanoTime);
            follower.step(own);
            assertThat(pauses).as("told of the pause at the first read").containsExactly(Pause.NEVER);
            follower.startAnnouncing();
            assertThat(events).as("no limits (a node without a fleet limiter seeds none) and no pause yet").isEmpty();

            record.setPaused(j, true, "alice", "deploy");
            follower.step(own);
            follower.step(own);
            assertThat(pauses).hasSize(2);
            assertThat(pauses.get(1).paused()).isTrue();
            assertThat(follower.pause().by()).isEqualTo("alice");
            assertThat(follower.status()).containsKey("pause").containsKey("enforcedBy");
            record.setPaused(j, false, "bob", "");
            follower.step(own);
            assertThat(pauses).extracting(Pause::paused).containsExactly(false, true, false);
            assertThat(events).hasSize(2);
            assertThat(events.get(0)).hasFieldOrPropertyWithValue("paused", true).hasFieldOrPropertyWithValue("by", "alice");
            assertThat(events.get(1)).hasFieldOrPropertyWithValue("paused", false);
        }
    }

    @Test
    void aNodeWithoutAFleetLimiterNeverSeedsTheFleetsLimits() {
        try (RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections);
             Jedis j = redis.server().newJedis()) {
            List<Pause> pauses = new ArrayList<>();
            LimitsFollower follower = new LimitsFollower(record, null, 7, 3, "alone", e -> { }, pauses::add,
                    System::nanoTime);
            follower.step(own);
            assertThat(j.exists(record.key())).as("a standalone node's file is not the fleet's").isFalse();
            assertThat(pauses).containsExactly(Pause.NEVER);
            record.setPaused(j, true, "alice", "");
            follower.step(own);
            assertThat(pauses).hasSize(2);
            assertThat(follower.pause().paused()).isTrue();
            assertThat(j.hexists(record.key(), "rps")).isFalse();
        }
    }

    @Test
    void thePauseHoldsWhenTheLimitsAreUnreadableAndComesBackWhenRedisLosesIt() {
        try (TestFleet fleet = TestFleet.start(1);
             RedisConnections connections = new RedisConnections(TestConfigs.config(redis.url()).redis(), "n");
             OwnConnection own = own(connections);
             Jedis j = redis.server().newJedis()) {
            FleetHubLimiter limiter = fleet.limiter(0, TestFleet.settings(10, 100, Duration.ofSeconds(6),
                    StoreFailurePolicy.FAIL_CLOSED));
            List<Pause> pauses = new ArrayList<>();
            LimitsFollower follower = new LimitsFollower(record, limiter, 100, 10, "node-0", e -> { }, pauses::add,
                    System::nanoTime);
            follower.step(own);
            java.util.Map<String, String> beforePause = j.hgetAll(record.key());

            // Paused, then the limits edited into nonsense by hand: the pause still holds.
            record.setPaused(j, true, "alice", "deploy");
            j.hset(record.key(), "rps", "lots");
            follower.step(own);
            assertThat(follower.status().get("problem")).asString().contains("rps = 'lots'");
            assertThat(follower.pause().paused()).isTrue();
            j.hset(record.key(), "rps", "100");
            follower.step(own);

            // Redis goes back to a copy from before the pause: the node pauses the fleet again.
            j.del(record.key());
            j.hset(record.key(), beforePause);
            follower.step(own);
            assertThat(follower.pause().paused()).as("still paused").isTrue();
            assertThat(record.read(j).pause().paused()).as("the record paused again").isTrue();
            assertThat(record.read(j).pause().reason()).contains("paused again by node node-0");
            assertThat(pauses).extracting(Pause::paused).containsExactly(false, true);
        }
    }
}
