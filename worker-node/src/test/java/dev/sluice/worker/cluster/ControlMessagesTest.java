package dev.sluice.worker.cluster;

import com.hazelcast.core.HazelcastInstance;
import dev.sluice.worker.SecuredFleet;
import dev.sluice.worker.cluster.ControlMessages.Rejection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class ControlMessagesTest {
    private static final String SECRET = "0123456789abcdef-control";

    private SecuredFleet fleet;

    @AfterEach
    void close() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void aGenuineLeaveShrinksTheFleetAndAForgedOneDoesNot() {
        fleet = SecuredFleet.start(4, SECRET);
        ClusterMember observer = fleet.member(0);
        await().atMost(Duration.ofSeconds(10)).until(() -> observer.lastKnownSize() == 4);

        fleet.member(3).close();
        await().atMost(Duration.ofSeconds(15)).until(() -> observer.memberCount() == 3);
        await().atMost(Duration.ofSeconds(5)).until(() -> observer.lastKnownSize() == 3);

        // A rogue member (a lite member: the majority counts data members only) announces that nodes 1 and 2 are
        // leaving, then they crash: were it believed, node 0 alone (1 of a fleet shrunk to 1) would hold a majority
        // it does not have.
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> observer.memberCount() == 4);
        ControlTopic leaving = ControlMessages.of(fleet.clusterName(), "a-guess-at-the-secret", Clock.systemUTC())
                .topic(rogue, ClusterMember.LEAVING_TOPIC);
        leaving.publish(fleet.member(1).hazelcast().getCluster().getLocalMember().getUuid().toString());
        leaving.publish(fleet.member(2).hazelcast().getCluster().getLocalMember().getUuid().toString());
        await().atMost(Duration.ofSeconds(10)).until(() -> observer.controlMessages().rejected(Rejection.BAD_MAC) == 2);

        fleet.member(1).hazelcast().getLifecycleService().terminate();
        fleet.member(2).hazelcast().getLifecycleService().terminate();
        await().atMost(Duration.ofSeconds(15)).until(() -> observer.memberCount() == 2);
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> !observer.hasMajority());
        assertThat(observer.lastKnownSize()).isEqualTo(3);
    }

    @Test
    void aMessageIsBoundToItsClusterItsSecretAndEveryByteItCarries() throws Exception {
        ControlMessages sender = ControlMessages.of("prod", SECRET, Clock.systemUTC());
        byte[] sealed = sender.seal("topic", 7, "600000");

        ControlMessages.Opened opened = ControlMessages.of("prod", SECRET, Clock.systemUTC()).open("topic", sealed);
        assertThat(opened.payload()).isEqualTo("600000");
        assertThat(opened.sequence()).isEqualTo(7);
        assertThat(opened.incarnation()).isEqualTo(sender.incarnation());

        assertRefused(ControlMessages.of("staging", SECRET, Clock.systemUTC()), "topic", sealed, Rejection.BAD_MAC);
        assertRefused(ControlMessages.of("prod", SECRET + "!", Clock.systemUTC()), "topic", sealed, Rejection.BAD_MAC);
        assertRefused(ControlMessages.of("prod", SECRET, Clock.systemUTC()), "other", sealed, Rejection.MALFORMED);
        for (int i = 0; i < sealed.length; i++) {
            byte[] tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assertThatThrownBy(() -> ControlMessages.of("prod", SECRET, Clock.systemUTC()).open("topic", tampered))
                    .as("byte %d changed", i).isInstanceOf(ControlMessages.Refused.class);
        }
        byte[] unsigned = ControlMessages.of("prod", "", Clock.systemUTC()).seal("topic", 1, "600000");
        assertRefused(ControlMessages.of("prod", SECRET, Clock.systemUTC()), "topic", unsigned, Rejection.BAD_MAC);
        // Without a secret of its own, a receiver reads signed and unsigned messages alike.
        assertThat(ControlMessages.of("prod", "", Clock.systemUTC()).open("topic", sealed).payload()).isEqualTo("600000");
        assertThat(ControlMessages.of("prod", "", Clock.systemUTC()).open("topic", unsigned).payload()).isEqualTo("600000");
    }

    @Test
    void aSenderIsHeardOnceForEachSequenceNumberAndOnlyWithinThirtySeconds() throws Exception {
        MovingClock clock = new MovingClock();
        ControlMessages receiver = ControlMessages.of("prod", SECRET, clock);
        ControlMessages sender = ControlMessages.of("prod", SECRET, clock);
        ControlMessages.Window window = receiver.new Window();

        ControlMessages.Opened first = receiver.open("topic", sender.seal("topic", 1, "a"));
        ControlMessages.Opened second = receiver.open("topic", sender.seal("topic", 2, "b"));
        assertThat(window.check(first)).isNull();
        assertThat(window.check(second)).isNull();
        assertThat(window.check(first)).isEqualTo(Rejection.REPLAY);
        assertThat(window.check(second)).isEqualTo(Rejection.REPLAY);

        clock.advance(Duration.ofSeconds(30));
        ControlMessages.Opened third = receiver.open("topic", sender.seal("topic", 3, "c"));
        clock.advance(Duration.ofMillis(1));
        assertThat(window.check(second)).isEqualTo(Rejection.STALE);
        assertThat(window.check(third)).isNull();

        ControlMessages ahead = ControlMessages.of("prod", SECRET, Clock.offset(clock, Duration.ofSeconds(31)));
        assertThat(window.check(receiver.open("topic", ahead.seal("topic", 1, "d")))).isEqualTo(Rejection.FUTURE);
    }

    @Test
    void aSecretShorterThanSixteenCharactersIsRefused() {
        assertThatThrownBy(() -> ControlMessages.of("prod", "short", Clock.systemUTC()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 16 characters")
                .hasMessageNotContaining("short\"");
    }

    private static void assertRefused(ControlMessages reader, String topic, byte[] wire, Rejection reason) {
        assertThatThrownBy(() -> reader.open(topic, wire)).isInstanceOfSatisfying(ControlMessages.Refused.class,
                refused -> assertThat(refused.reason).isEqualTo(reason));
    }

    /** A wall clock that tests move. */
    private static final class MovingClock extends Clock {
        private volatile Instant now = Instant.parse("2030-01-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
