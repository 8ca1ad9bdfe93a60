package dev.sluice.control;

import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backfill record's enqueue side on a real redis-server, in the orders a signal can bring: the enqueue's own
 * thread counts chunks while a shutdown hook may end the backfill at any moment between its steps.
 */
class BackfillsTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().flushBeforeEach(true).build();

    private final Backfills backfills = new Backfills("sluice:jobs");

    @Test
    void aChunkCountedAndNotYetSettledWhenTheBackfillEndsIsUncertainWhateverTheCallerKnew() {
        try (Jedis j = redis.server().newJedis()) {
            assertThat(backfills.begin(j, "b1", "test")).isTrue();
            assertThat(backfills.reserve(j, "b1", 1_000)).isTrue();
            backfills.settle(j, "b1", 0);
            assertThat(backfills.reserve(j, "b1", 1_000)).isTrue();
            // The hook ends it before the enqueue thread noted the chunk as outstanding: it says 0.
            backfills.ended(j, "b1", false, 0);

            Map<String, String> b = j.hgetAll(backfills.key("b1"));
            assertThat(b).containsEntry("state", "stopped").containsEntry("total", "2000")
                    .containsEntry("uncertain", "1000").doesNotContainKey("reserved");
        }
    }

    @Test
    void aCallersUncertainCountStandsWhenItIsTheLarger() {
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "b2", "test");
            backfills.reserve(j, "b2", 10);
            backfills.ended(j, "b2", false, 25);
            assertThat(j.hget(backfills.key("b2"), "uncertain")).isEqualTo("25");
        }
    }

    @Test
    void nothingMoreIsCountedOnceTheEnqueueIsOver() {
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "b3", "test");
            backfills.reserve(j, "b3", 500);
            backfills.settle(j, "b3", 0);
            backfills.ended(j, "b3", false, 0);

            assertThat(backfills.reserve(j, "b3", 500)).as("a chunk after the hook ended the backfill").isFalse();
            assertThat(j.hgetAll(backfills.key("b3"))).containsEntry("total", "500").doesNotContainKey("reserved")
                    .doesNotContainKey("uncertain");
            assertThat(backfills.reserve(j, "unknown", 5)).as("a backfill that is not there").isFalse();
        }
    }

    @Test
    void aCompleteEnqueueWithNothingInFlightHasNothingUncertain() {
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "b4", "test");
            backfills.reserve(j, "b4", 3);
            backfills.settle(j, "b4", 1);
            backfills.ended(j, "b4", true, 0);
            assertThat(j.hgetAll(backfills.key("b4"))).containsEntry("state", "complete").containsEntry("total", "2")
                    .doesNotContainKey("uncertain");
        }
    }
}
