package dev.sluice.worker.limits.fleet.grant;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

/** The grantor record's script on a real Redis: one winner per compare-and-set, renewals only by the holder. */
class RedisArbitrationStoreTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @Test
    void oneOfTwoTakersWinsAndOnlyTheHolderRenewsOrEnds() {
        SluiceConfig config = TestConfigs.config(redis.url(), "node.id", "arb");
        try (RedisConnections connections = new RedisConnections(config.redis(), "arb")) {
            RedisArbitrationStore store = new RedisArbitrationStore(connections, "fleet-" + System.nanoTime());
            assertThat(store.read().absent()).isTrue();
            Arbitration a = store.take(Arbitration.ABSENT, "inc-a", "member-a", "a", "t1");
            Arbitration b = store.take(Arbitration.ABSENT, "inc-b", "member-b", "b", "t2");
            assertThat(a.heldBy("inc-a", "t1")).isTrue();
            assertThat(b.heldBy("inc-a", "t1")).as("the second taker sees the first one's record").isTrue();
            assertThat(store.renew("inc-b", "t1", 1, "member-b", true).seq()).as("not the holder: nothing changes").isEqualTo(1);
            assertThat(store.renew("inc-a", "t1", 7, "member-a", true).seq())
                    .as("a renewal from another count than the holder's last (Redis went back) changes nothing").isEqualTo(1);
            Arbitration renewed = store.renew("inc-a", "t1", 1, "member-a2", true);
            assertThat(renewed.seq()).isEqualTo(2);
            assertThat(renewed.member()).as("the holder's member id follows it across a merge").isEqualTo("member-a2");
            assertThat(renewed.ready()).isTrue();
            assertThat(store.take(a, "inc-b", "member-b", "b", "t3").term())
                    .as("a take that expected an older renewal fails").isEqualTo("t1");
            Arbitration taken = store.take(renewed, "inc-b", "member-b", "b", "t3");
            assertThat(taken.heldBy("inc-b", "t3")).isTrue();
            assertThat(taken.ready()).as("a new holder is not ready until it says so").isFalse();
            assertThat(taken.seq()).as("a take goes on counting: the count only grows, across terms")
                    .isEqualTo(renewed.seq() + 1);
            assertThat(store.end("inc-a", "t1").ended()).as("the old holder cannot end the new term").isFalse();
            Arbitration ended = store.end("inc-b", "t3");
            assertThat(ended.ended()).isTrue();
            assertThat(ended.seq()).isEqualTo(taken.seq() + 1);
            Arbitration next = store.take(ended, "inc-c", "member-c", "c", "t4");
            assertThat(next.heldBy("inc-c", "t4")).isTrue();
            assertThat(next.seq()).isEqualTo(ended.seq() + 1);
        }
    }
}
