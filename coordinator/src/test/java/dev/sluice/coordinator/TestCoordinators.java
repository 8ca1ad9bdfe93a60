package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.testkit.KafkaBroker;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Starting in-process coordinators on a test broker, and reading what they produce. */
public final class TestCoordinators {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TestCoordinators() {
    }

    /** A configuration with short for-durations; {@code coordinatorExtra} and {@code alertsExtra} add keys. */
    public static String config(KafkaBroker broker, String events, String alerts, String coordinatorExtra,
                                String alertsExtra) {
        return """
                [kafka]
                bootstrap_servers = "%s"
                events_topic = "%s"
                alerts_topic = "%s"
                [metrics]
                port = 0
                bind = "127.0.0.1"
                [coordinator]
                group_id = "%s"
                evaluation_interval_ms = 100
                heartbeat_interval_ms = 200
                replay_secs = 120
                external_url = "http://coordinator.test:8081"
                %s
                [alerts]
                pool_usage_for_secs = 1
                breaker_not_closed_for_secs = 1
                node_down_for_secs = 0
                %s
                %s
                """.formatted(broker.bootstrapServers(), events, alerts, events + "-group", coordinatorExtra,
                alertsExtra.contains("node_down_missed_heartbeats") ? "" : "node_down_missed_heartbeats = 5",
                alertsExtra);
    }

    /** Starts a coordinator from {@code toml} on the system clock, adds it to {@code toClose}, waits until ready. */
    public static Coordinator startAndAwaitReady(String toml, List<AutoCloseable> toClose) {
        SluiceConfig config = ConfigLoader.parse(toml, Map.of());
        Coordinator coordinator = new Coordinator(config, Clock.systemUTC()).start();
        toClose.add(coordinator);
        await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(60)).until(coordinator::ready);
        return coordinator;
    }

    public static Coordinator start(KafkaBroker broker, String events, String alerts, List<AutoCloseable> toClose) {
        return startAndAwaitReady(config(broker, events, alerts, "", ""), toClose);
    }

    public static void awaitUntil(Callable<Boolean> condition) {
        await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(30)).until(condition);
    }

    public static boolean firingFor(URI api, String alertname, String node) {
        return Http.alerts(api, "firing", alertname).stream()
                .anyMatch(a -> node.equals(a.path("labels").path("node").asText()));
    }

    public static boolean resolvedFor(URI api, String alertname, String node) {
        return Http.alerts(api, "resolved", alertname).stream()
                .anyMatch(a -> node.equals(a.path("labels").path("node").asText()))
                && !firingFor(api, alertname, node);
    }

    /** Every record of the alerts topic, from its beginning: fingerprint (the key) to the states, in order. */
    public static Map<String, List<String>> topicStates(KafkaBroker broker, String topic) throws IOException {
        Map<String, List<String>> states = new LinkedHashMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()))) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.value() == null) {
                        states.computeIfAbsent(record.key(), k -> new ArrayList<>()).add("tombstone");
                        continue;
                    }
                    JsonNode value = JSON.readTree(record.value());
                    assertThat(value.path("fingerprint").asText()).isEqualTo(record.key());
                    states.computeIfAbsent(record.key(), k -> new ArrayList<>()).add(value.path("state").asText());
                }
            }
        }
        return states;
    }
}
