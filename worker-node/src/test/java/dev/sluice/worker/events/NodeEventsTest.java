package dev.sluice.worker.events;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.WorkerNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A real node publishing to a real broker: lifecycle, dead letters and heartbeats with its counters. */
class NodeEventsTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    @Test
    void nodePublishesItsLifeDeadLettersAndHeartbeatsWithCounters() {
        String topic = "events-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        List<Event> events = new CopyOnWriteArrayList<>();
        try (HubSimulator hub = HubSimulator.builder().build().start()) {
            SluiceConfig config = TestConfigs.config(redis.url(), "node.id", "evented", "kafka.enabled", "true",
                    "kafka.bootstrap_servers", kafka.bootstrapServers(), "kafka.events_topic", topic,
                    "node.heartbeat_interval_secs", "1", "hub.base_url", hub.baseUrl());
            try (WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry());
                 KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                         ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                         ConsumerConfig.GROUP_ID_CONFIG, "t-" + UUID.randomUUID(),
                         ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                         ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                         ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class))) {
                consumer.subscribe(List.of(topic));
                node.queue().enqueue(IntStream.range(0, 20).mapToObj(i -> Job.of("noop", "k" + i)).toList());
                node.queue().enqueueRaw(List.of("{\"type\":\"noop\"}", "{\"key\":\"k\",\"type\":\"nope\"}"));
                node.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                        if (EventCodec.decode(r.value()) instanceof EventCodec.Decoded.Ok ok) {
                            events.add(ok.event());
                        }
                    });
                    return events.stream().anyMatch(e -> e.payload() instanceof EventPayload.Heartbeat h
                            && h.counters().jobsDone() == 20 && h.counters().jobsDeadLettered() == 2);
                });
            }
        }
        assertThat(events).allSatisfy(e -> assertThat(e.nodeId()).isEqualTo("evented"));
        assertThat(events.getFirst().payload()).isInstanceOf(EventPayload.NodeStarted.class);
        assertThat(events).filteredOn(e -> e.payload() instanceof EventPayload.JobDeadLettered)
                .extracting(e -> ((EventPayload.JobDeadLettered) e.payload()).kind())
                .containsExactly("bad-job", "bad-job");
        EventPayload.Heartbeat last = events.stream().filter(e -> e.payload() instanceof EventPayload.Heartbeat)
                .map(e -> (EventPayload.Heartbeat) e.payload()).reduce((a, b) -> b).orElseThrow();
        assertThat(last.counters().jobsFailedByKind()).containsEntry("bad-job", 2L);
        assertThat(last.counters().redisOperations()).isPositive();
        assertThat(last.pool().max()).isEqualTo(20);
        assertThat(events).extracting(Event::sequence).isSorted().doesNotHaveDuplicates();
    }
}
