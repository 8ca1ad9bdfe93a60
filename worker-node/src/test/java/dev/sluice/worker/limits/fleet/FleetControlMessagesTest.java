package dev.sluice.worker.limits.fleet;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.topic.ITopic;
import com.hazelcast.topic.Message;
import dev.sluice.worker.SecuredFleet;
import dev.sluice.worker.cluster.ControlMessages;
import dev.sluice.worker.cluster.ControlMessages.Rejection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The outside tester's attack, on real members built as production builds them: a Hazelcast client that knows only
 * the cluster name, and a rogue member that joined the cluster, try to pause every node's Hub calls through the
 * fleet's pause topic.
 */
class FleetControlMessagesTest {
    private static final String SECRET = "correct-horse-battery-staple";
    private static final Duration TEN_MINUTES = Duration.ofMinutes(10);

    private SecuredFleet fleet;

    @AfterEach
    void close() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void aHazelcastClientKnowingTheClusterNameCannotConnectNorPause() {
        fleet = SecuredFleet.start(1, SECRET);
        FleetHubLimiter limiter = fleet.limiter(0);
        ClientConfig client = new ClientConfig();
        client.setClusterName(fleet.clusterName());
        client.setInstanceName(fleet.clusterName() + "-client");
        client.setProperty("hazelcast.logging.type", "slf4j");
        client.getNetworkConfig().addAddress(fleet.addresses().getFirst());
        client.getConnectionStrategyConfig().getConnectionRetryConfig()
                .setClusterConnectTimeoutMillis(5_000).setInitialBackoffMillis(200).setMaxBackoffMillis(1_000);

        long started = System.nanoTime();
        assertThatThrownBy(() -> {
            HazelcastInstance connected = HazelcastClient.newHazelcastClient(client);
            try {
                connected.<Long>getTopic(FleetStore.PAUSE_TOPIC).publish(TEN_MINUTES.toMillis());
            } finally {
                connected.shutdown();
            }
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("Unable to connect");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));

        assertThat(limiter.localPause()).isZero();
        assertThat(limiter.snapshot().pausedUntil()).isZero();
        assertThat(fleet.member(0).memberCount()).isEqualTo(1);
    }

    @Test
    void forgedAndReplayedPausesFromARogueMemberAreDroppedAndCountedWhileAGenuineOneWorks() throws Exception {
        fleet = SecuredFleet.start(2, SECRET);
        FleetHubLimiter sender = fleet.limiter(0);
        FleetHubLimiter receiver = fleet.limiter(1);
        ControlMessages receiving = fleet.member(1).controlMessages();
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> fleet.member(1).memberCount() == 3);
        ITopic<Object> pauseTopic = rogue.getTopic(FleetStore.PAUSE_TOPIC);
        LinkedBlockingQueue<Object> captured = new LinkedBlockingQueue<>();
        pauseTopic.addMessageListener(m -> {
            if (!m.getPublishingMember().localMember()) {
                captured.add(m.getMessageObject());
            }
        });

        // The tester's message: a bare number of milliseconds, as the pause topic carried before.
        pauseTopic.publish(TEN_MINUTES.toMillis());
        awaitRejected(receiving, Rejection.VERSION, 1);

        // A message in the current format, unsigned, and one signed under a guessed secret.
        ControlMessages.of(fleet.clusterName(), "", Clock.systemUTC()).topic(rogue, FleetStore.PAUSE_TOPIC)
                .publish(Long.toString(TEN_MINUTES.toMillis()));
        ControlMessages.of(fleet.clusterName(), "not-the-fleet's-secret", Clock.systemUTC())
                .topic(rogue, FleetStore.PAUSE_TOPIC).publish(Long.toString(TEN_MINUTES.toMillis()));
        awaitRejected(receiving, Rejection.BAD_MAC, 2);
        awaitRejected(fleet.member(0).controlMessages(), Rejection.BAD_MAC, 2);
        assertThat(receiver.localPause()).isZero();
        assertThat(sender.localPause()).isZero();
        assertThat(captured).isEmpty();

        // A node with the secret pauses the fleet.
        sender.pauseFor(Duration.ofMillis(1_500));
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                .until(() -> receiving.accepted() >= 1);
        assertThat(receiver.localPause()).isPositive().isLessThanOrEqualTo(Duration.ofMillis(1_500));
        Object genuine = captured.poll(5, TimeUnit.SECONDS);
        assertThat(genuine).isInstanceOf(byte[].class);
        await().atMost(Duration.ofSeconds(5)).until(() -> receiver.localPause().isZero()
                && sender.snapshot().pausedUntil() < System.currentTimeMillis());

        // The rogue sends the captured genuine message again, well within 30 s.
        long replaysBefore = receiving.rejected(Rejection.REPLAY);
        pauseTopic.publish(genuine);
        awaitRejected(receiving, Rejection.REPLAY, replaysBefore + 1);
        assertThat(receiver.localPause()).isZero();
        assertThat(receiving.accepted()).isEqualTo(1);

        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        receiving.bindTo(meters);
        assertThat(meters.get(ControlMessages.REJECTED_METER).tag("reason", "bad_mac").functionCounter().count())
                .isEqualTo(2.0);
        assertThat(meters.get(ControlMessages.REJECTED_METER).tag("reason", "replay").functionCounter().count())
                .isEqualTo(1.0);
        assertThat(meters.get(ControlMessages.REJECTED_METER).tag("reason", "version").functionCounter().count())
                .isEqualTo(1.0);
    }

    @Test
    void messagesSentMoreThanThirtySecondsAgoOrAheadAreDropped() {
        fleet = SecuredFleet.start(1, SECRET);
        FleetHubLimiter receiver = fleet.limiter(0);
        ControlMessages receiving = fleet.member(0).controlMessages();
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> fleet.member(0).memberCount() == 2);

        // Holders of the secret whose clocks are off: the message carries the sender's send time.
        senderAt(rogue, Duration.ofSeconds(-31)).publish("600000");
        awaitRejected(receiving, Rejection.STALE, 1);
        senderAt(rogue, Duration.ofSeconds(31)).publish("600000");
        awaitRejected(receiving, Rejection.FUTURE, 1);
        assertThat(receiver.localPause()).isZero();

        senderAt(rogue, Duration.ofSeconds(-25)).publish("600000");
        await().atMost(Duration.ofSeconds(5)).until(() -> receiving.accepted() == 1);
        assertThat(receiver.localPause()).isPositive();
    }

    @Test
    void payloadsThatAreNotPausesAndTruncatedMessagesAreMalformed() throws Exception {
        fleet = SecuredFleet.start(1, SECRET);
        FleetHubLimiter receiver = fleet.limiter(0);
        ControlMessages receiving = fleet.member(0).controlMessages();
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> fleet.member(0).memberCount() == 2);

        senderAt(rogue, Duration.ZERO).publish("soon");
        senderAt(rogue, Duration.ZERO).publish(Long.toString(Long.MAX_VALUE));
        rogue.getTopic(FleetStore.PAUSE_TOPIC).publish(new byte[] {ControlMessages.VERSION, 0, 5});
        awaitRejected(receiving, Rejection.MALFORMED, 3);
        rogue.getTopic(FleetStore.PAUSE_TOPIC).publish(versionTwo());
        awaitRejected(receiving, Rejection.VERSION, 1);

        // A genuine message of another topic, moved to the pause topic.
        LinkedBlockingQueue<Object> wakes = new LinkedBlockingQueue<>();
        rogue.<Object>getTopic(FleetStore.WAKE_TOPIC).addMessageListener(m -> wakes.add(m.getMessageObject()));
        fleet.member(0).controlTopic(FleetStore.WAKE_TOPIC).publish("600000");
        Object wake = wakes.poll(5, TimeUnit.SECONDS);
        assertThat(wake).isInstanceOf(byte[].class);
        rogue.getTopic(FleetStore.PAUSE_TOPIC).publish(wake);
        awaitRejected(receiving, Rejection.MALFORMED, 4);
        assertThat(receiver.localPause()).isZero();
        assertThat(receiving.rejected(Rejection.BAD_MAC)).isZero();
    }

    @Test
    void withoutASecretUnsignedMessagesAreAcceptedButReplaysAndOldOnesAreNot() {
        fleet = SecuredFleet.start(1, "");
        FleetHubLimiter receiver = fleet.limiter(0);
        ControlMessages receiving = fleet.member(0).controlMessages();
        assertThat(receiving.authenticated()).isFalse();
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> fleet.member(0).memberCount() == 2);
        LinkedBlockingQueue<Object> captured = new LinkedBlockingQueue<>();
        ITopic<Object> pauseTopic = rogue.getTopic(FleetStore.PAUSE_TOPIC);
        pauseTopic.addMessageListener(m -> captured.add(m.getMessageObject()));

        senderAt(rogue, Duration.ofSeconds(-31)).publish("800");
        awaitRejected(receiving, Rejection.STALE, 1);
        ControlMessages.of(fleet.clusterName(), "", Clock.systemUTC()).topic(rogue, FleetStore.PAUSE_TOPIC)
                .publish("800");
        await().atMost(Duration.ofSeconds(5)).until(() -> receiving.accepted() == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> receiver.localPause().isZero());

        await().atMost(Duration.ofSeconds(5)).until(() -> captured.size() == 2);
        captured.poll();
        pauseTopic.publish(captured.poll());
        awaitRejected(receiving, Rejection.REPLAY, 1);
        assertThat(receiving.accepted()).isEqualTo(1);
        assertThat(receiver.localPause()).isZero();
    }

    @Test
    void aJavaSerializedObjectOnATopicIsNeverDeserializedByANode() {
        fleet = SecuredFleet.start(1, SECRET);
        fleet.limiter(0);
        ControlMessages receiving = fleet.member(0).controlMessages();
        HazelcastInstance rogue = fleet.startRogue();
        await().atMost(Duration.ofSeconds(20)).until(() -> fleet.member(0).memberCount() == 2);
        Gadget.readBy.clear();

        ITopic<Object> pauseTopic = rogue.getTopic(FleetStore.PAUSE_TOPIC);
        pauseTopic.publish(new Gadget());
        awaitRejected(receiving, Rejection.MALFORMED, 1);
        assertThat(Gadget.readBy).isEmpty();

        // Without the filter (the rogue's own listener), the same message runs the gadget's readObject.
        pauseTopic.addMessageListener(Message::getMessageObject);
        pauseTopic.publish(new Gadget());
        await().atMost(Duration.ofSeconds(5)).until(() -> !Gadget.readBy.isEmpty());
        assertThat(Gadget.readBy).containsOnly("read");
    }

    /** Stands for a deserialization gadget: its readObject records that it ran. Outside the nodes' allow-list. */
    static final class Gadget implements Serializable {
        @Serial
        private static final long serialVersionUID = 1L;
        static final Set<String> readBy = ConcurrentHashMap.newKeySet();

        @Serial
        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            readBy.add("read");
        }
    }

    @Test
    void aFailureOnAnotherMemberCrossesTheSerializationFilter() throws Exception {
        fleet = SecuredFleet.start(2, SECRET);
        HazelcastInstance one = fleet.member(0).hazelcast();
        String key = ownedBy(fleet.member(1).hazelcast(), one);
        IMap<String, byte[]> permits = one.getMap(FleetStore.PERMITS_MAP);
        permits.put(key, new byte[] {99}); // a permit table of a schema version nobody reads

        assertThatThrownBy(() -> permits.submitToKey(key, PermitProcessor.inspect()).toCompletableFuture().get())
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(IllegalStateException.class).hasMessageContaining("schema version 99");
    }

    /** A key whose partition {@code owner} owns, so that {@code caller}'s entry processors on it run remotely. */
    private static String ownedBy(HazelcastInstance owner, HazelcastInstance caller) {
        for (int i = 0; ; i++) {
            String key = "probe-" + i;
            if (caller.getPartitionService().getPartition(key).getOwner().getUuid()
                    .equals(owner.getCluster().getLocalMember().getUuid())) {
                return key;
            }
        }
    }

    private static dev.sluice.worker.cluster.ControlTopic senderAt(HazelcastInstance from, Duration clockOffset) {
        String cluster = from.getConfig().getClusterName();
        return ControlMessages.of(cluster, SECRET, Clock.offset(Clock.systemUTC(), clockOffset))
                .topic(from, FleetStore.PAUSE_TOPIC);
    }

    private static byte[] versionTwo() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(2);
            out.writeUTF(FleetStore.PAUSE_TOPIC);
            out.writeLong(System.currentTimeMillis());
        }
        return bytes.toByteArray();
    }

    private static void awaitRejected(ControlMessages messages, Rejection reason, long count) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(() -> messages.rejected(reason) >= count);
        assertThat(messages.rejected(reason)).isEqualTo(count);
    }
}
