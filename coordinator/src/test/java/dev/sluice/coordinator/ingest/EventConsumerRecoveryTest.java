package dev.sluice.coordinator.ingest;

import dev.sluice.common.event.EventCodec;
import dev.sluice.coordinator.FakeNode;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.coordinator.state.ClusterState;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A Kafka consumer that dies of something the client does not recover from (seen in CI: the classic consumer's
 * heartbeat thread failing with "Invalid attempt to complete a request future which is already complete", which
 * then ends every poll) is replaced, and the new one resumes where the failed one left off: nothing applied twice,
 * nothing missed.
 */
class EventConsumerRecoveryTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    @Test
    void aConsumerThatFailsIsReplacedAndResumesWhereItLeftOff(KafkaBroker broker) throws Exception {
        String topic = "recovery.events";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            Topics.ensure(admin, topic, false, Duration.ofSeconds(30));
        }
        AtomicBoolean failNextPoll = new AtomicBoolean();
        AtomicInteger made = new AtomicInteger();
        IngestStats stats = new IngestStats(new SimpleMeterRegistry());
        ClusterState state = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
                Duration.ofMinutes(5), Duration.ofHours(1)));
        Map<String, Object> config = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "recovery-group");
        try (KafkaProducer<String, byte[]> producer = FakeNode.producer(broker.bootstrapServers());
             EventConsumer consumer = new EventConsumer(config, topic, Duration.ofMinutes(10), state, stats,
                     Clock.systemUTC(), c -> {
                         made.incrementAndGet();
                         return new KafkaConsumer<String, byte[]>(c) {
                             @Override
                             public ConsumerRecords<String, byte[]> poll(Duration timeout) {
                                 if (failNextPoll.compareAndSet(true, false)) {
                                     throw new IllegalStateException(
                                             "Invalid attempt to complete a request future which is already complete");
                                 }
                                 return super.poll(timeout);
                             }
                         };
                     })) {
            TestEvents a = new TestEvents("a");
            for (int i = 0; i < 3; i++) {
                producer.send(new ProducerRecord<>(topic, "a", EventCodec.encode(a.heartbeat(System.currentTimeMillis()))))
                        .get(10, TimeUnit.SECONDS);
            }
            consumer.start();
            await().atMost(Duration.ofSeconds(60)).until(
                    () -> consumer.caughtUp() && stats.consumedByType().getOrDefault("heartbeat", 0L) == 3);

            failNextPoll.set(true);
            await().atMost(Duration.ofSeconds(30)).until(() -> stats.consumerRestarts() == 1 && made.get() == 2);

            for (int i = 0; i < 2; i++) {
                producer.send(new ProducerRecord<>(topic, "a", EventCodec.encode(a.heartbeat(System.currentTimeMillis()))))
                        .get(10, TimeUnit.SECONDS);
            }
            await().atMost(Duration.ofSeconds(90)).until(
                    () -> stats.consumedByType().getOrDefault("heartbeat", 0L) >= 5);
            Thread.sleep(1_000);
            assertThat(stats.consumedByType()).containsEntry("heartbeat", 5L);
            assertThat(stats.consumerRestarts()).isEqualTo(1);
        }
    }

    @Test
    void aConsumerThatKeepsFailingIsReplacedAfterGrowingPauses() {
        assertThat(IntStream.rangeClosed(1, 8).mapToObj(EventConsumer::restartPause).map(Duration::toSeconds))
                .containsExactly(1L, 2L, 4L, 8L, 16L, 30L, 30L, 30L);
        assertThat(EventConsumer.restartPause(Integer.MAX_VALUE)).isEqualTo(Duration.ofSeconds(30));
    }
}
