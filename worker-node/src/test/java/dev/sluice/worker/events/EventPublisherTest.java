package dev.sluice.worker.events;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.testkit.KafkaExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The publisher against a real KRaft broker, including the broker going away and coming back. */
class EventPublisherTest {

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private static KafkaConfig config(String topic, int buffer) {
        return ConfigLoader.parse("", Map.of("SLUICE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers(),
                "SLUICE_KAFKA_EVENTS_TOPIC", topic, "SLUICE_KAFKA_BUFFER_EVENTS", Integer.toString(buffer))).kafka();
    }

    private static KafkaConsumer<String, byte[]> consumer(String topic) {
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class));
        consumer.subscribe(List.of(topic));
        return consumer;
    }

    private static List<ConsumerRecord<String, byte[]>> readAtLeast(KafkaConsumer<String, byte[]> consumer, int n) {
        List<ConsumerRecord<String, byte[]>> got = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            return got.size() >= n;
        });
        return got;
    }

    @Test
    void eventsAreKeyedByNodeAndCarryARisingSequence() {
        String topic = "events-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        try (EventPublisher publisher = new EventPublisher(config(topic, 100), "node-7", Clock.systemUTC(), new SimpleMeterRegistry());
             KafkaConsumer<String, byte[]> consumer = consumer(topic)) {
            for (int i = 0; i < 5; i++) {
                publisher.publish(new EventPayload.NodeStopping("r" + i));
            }
            List<ConsumerRecord<String, byte[]>> got = readAtLeast(consumer, 5);
            assertThat(got).extracting(ConsumerRecord::key).containsOnly("node-7");
            List<Event> events = got.stream().map(r -> ((EventCodec.Decoded.Ok) EventCodec.decode(r.value())).event()).toList();
            assertThat(events).extracting(Event::sequence).containsExactly(1L, 2L, 3L, 4L, 5L);
            assertThat(events).extracting(e -> ((EventPayload.NodeStopping) e.payload()).reason())
                    .containsExactly("r0", "r1", "r2", "r3", "r4");
        }
    }

    @Test
    void publishingNeverBlocksWhileKafkaIsDownAndEventsFlowWhenItReturns() {
        String topic = "events-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        try (EventPublisher publisher = new EventPublisher(config(topic, 50), "node-8", Clock.systemUTC(), new SimpleMeterRegistry())) {
            publisher.publish(new EventPayload.NodeStopping("before"));
            await().atMost(Duration.ofSeconds(20)).until(() -> publisher.sent() == 1);
            kafka.broker().stop();
            long start = System.nanoTime();
            int accepted = 0;
            for (int i = 0; i < 200; i++) {
                if (publisher.publish(new EventPayload.NodeStopping("during-" + i))) {
                    accepted++;
                }
            }
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            // max.block.ms is 2 s per send: a blocking publish would take minutes for 200 events.
            assertThat(elapsedMs).as("200 publishes with Kafka down").isLessThan(1_000);
            assertThat(publisher.dropped()).as("overflow is counted").isEqualTo(200 - accepted).isPositive();
            kafka.broker().start();
            try (KafkaConsumer<String, byte[]> consumer = consumer(topic)) {
                List<ConsumerRecord<String, byte[]>> got = readAtLeast(consumer, 1 + accepted);
                assertThat(got.stream().map(r -> ((EventCodec.Decoded.Ok) EventCodec.decode(r.value())).event()
                        .payload()).map(p -> ((EventPayload.NodeStopping) p).reason()))
                        .contains("before", "during-0");
            }
        }
    }
}
