package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the coordinator's alerts topic from its beginning. */
final class AlertsTopic {

    private AlertsTopic() {
    }

    /**
     * Every record of the topic in order, fingerprint (the record key) to the states it went through ({@code firing},
     * {@code resolved}, {@code tombstone} for a null value). Fails if a value's fingerprint is not its key.
     */
    static Map<String, List<String>> states(String bootstrapServers, String topic) {
        Map<String, List<String>> states = new LinkedHashMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end " + ends + " within 30 s");
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    String state;
                    if (record.value() == null) {
                        state = "tombstone";
                    } else {
                        JsonNode value = Http.JSON.readTree(record.value());
                        if (!value.path("fingerprint").asText().equals(record.key())) {
                            throw new AssertionError("alert record keyed " + record.key() + " carries fingerprint "
                                    + value.path("fingerprint").asText());
                        }
                        state = value.path("state").asText();
                    }
                    states.computeIfAbsent(record.key(), k -> new ArrayList<>()).add(state);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return states;
    }
}
