package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class KafkaBrokerTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    @Test
    void producesAndConsumesARecordWithRealClients(KafkaBroker broker) throws Exception {
        broker.createTopic("events", 3);

        try (KafkaProducer<String, String> producer = producer(broker)) {
            RecordMetadata sent = producer.send(new ProducerRecord<>("events", "node-1", "heartbeat")).get(30, TimeUnit.SECONDS);
            assertThat(sent.topic()).isEqualTo("events");
        }

        List<ConsumerRecord<String, String>> records = consume(broker, "events", "reader", 1);
        assertThat(records).singleElement().satisfies(r -> {
            assertThat(r.key()).isEqualTo("node-1");
            assertThat(r.value()).isEqualTo("heartbeat");
        });
    }

    @Test
    void stopAndStartKeepsTheTopicAndItsRecordsOnTheSamePort(KafkaBroker broker) throws Exception {
        broker.createTopic("alerts", 2);
        try (KafkaProducer<String, String> producer = producer(broker)) {
            for (int i = 0; i < 5; i++) {
                producer.send(new ProducerRecord<>("alerts", "k" + i, "alert-" + i)).get(30, TimeUnit.SECONDS);
            }
        }
        String bootstrap = broker.bootstrapServers();

        broker.stop();
        assertThat(broker.isRunning()).isFalse();
        broker.start();

        assertThat(broker.bootstrapServers()).isEqualTo(bootstrap);
        try (Admin admin = broker.newAdmin()) {
            assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS)).contains("alerts");
        }
        assertThat(consume(broker, "alerts", "after-restart", 5))
                .extracting(ConsumerRecord::value)
                .containsExactlyInAnyOrder("alert-0", "alert-1", "alert-2", "alert-3", "alert-4");
    }

    @Test
    void createsCompactedTopics(KafkaBroker broker) throws Exception {
        broker.createTopic("node-state", 1, true);

        try (Admin admin = broker.newAdmin()) {
            ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, "node-state");
            Config config = admin.describeConfigs(List.of(topic)).all().get(30, TimeUnit.SECONDS).get(topic);
            assertThat(config.get(TopicConfig.CLEANUP_POLICY_CONFIG).value()).isEqualTo(TopicConfig.CLEANUP_POLICY_COMPACT);
        }
    }

    private static KafkaProducer<String, String> producer(KafkaBroker broker) {
        Map<String, Object> config = broker.clientConfig();
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(config, new StringSerializer(), new StringSerializer());
    }

    private static List<ConsumerRecord<String, String>> consume(KafkaBroker broker, String topic, String group, int expected) {
        Map<String, Object> config = broker.clientConfig();
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (records.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }
}
