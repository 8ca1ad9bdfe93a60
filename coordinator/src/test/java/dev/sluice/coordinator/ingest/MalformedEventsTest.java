package dev.sluice.coordinator.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.common.event.EventCodec;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.coordinator.TestCoordinators;
import dev.sluice.coordinator.FakeNode;
import dev.sluice.coordinator.Http;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Records on the events topic that are not readable events are counted by reason and skipped; nothing stops. */
class MalformedEventsTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void malformedFutureVersionAndUnknownRecordsAreCountedAndSkipped(KafkaBroker broker) throws Exception {
        Coordinator coordinator = TestCoordinators.start(broker, "bad.events", "bad.alerts", toClose);
        URI api = coordinator.uri();
        try (KafkaProducer<String, byte[]> producer = FakeNode.producer(broker.bootstrapServers())) {
            send(producer, "x", "{nope".getBytes(StandardCharsets.UTF_8));
            send(producer, "x", null);
            send(producer, "x", "[1,2,3]".getBytes(StandardCharsets.UTF_8));
            send(producer, "x", json("{\"v\":2,\"type\":\"heartbeat\",\"node\":\"x\",\"ts\":1,\"seq\":1,\"payload\":{}}"));
            send(producer, "x", json("{\"v\":1,\"type\":\"node-exploded\",\"node\":\"x\",\"ts\":1,\"seq\":2,\"payload\":{}}"));
            send(producer, "x", json("{\"v\":1,\"type\":\"pool-pressure\",\"node\":\"x\",\"ts\":1,\"seq\":3,"
                    + "\"payload\":{\"entered\":\"maybe\"}}"));
            send(producer, "ok1", EventCodec.encode(new TestEvents("ok1").heartbeat(System.currentTimeMillis())));
        }

        TestCoordinators.awaitUntil(() -> {
            JsonNode skipped = Http.json(api, "/api/cluster").path("ingest").path("skipped");
            return skipped.path("malformed").asInt() == 4 && skipped.path("unsupported-version").asInt() == 1
                    && skipped.path("unknown-type").asInt() == 1;
        });
        JsonNode cluster = Http.json(api, "/api/cluster");
        assertThat(cluster.path("nodes")).extracting(n -> n.path("id").asText()).containsExactly("ok1");
        assertThat(cluster.path("ingest").path("consumed").path("heartbeat").asInt()).isEqualTo(1);
        String metrics = Http.get(api, "/metrics").body();
        assertThat(metrics).contains("sluice_coordinator_events_skipped_total{reason=\"malformed\"} 4.0",
                "sluice_coordinator_events_skipped_total{reason=\"unsupported-version\"} 1.0",
                "sluice_coordinator_events_skipped_total{reason=\"unknown-type\"} 1.0");

        // Still consuming.
        try (KafkaProducer<String, byte[]> producer = FakeNode.producer(broker.bootstrapServers())) {
            send(producer, "ok2", EventCodec.encode(new TestEvents("ok2").heartbeat(System.currentTimeMillis())));
        }
        TestCoordinators.awaitUntil(
                () -> Http.json(api, "/api/cluster").path("nodesKnown").asInt() == 2);
        assertThat(Http.get(api, "/health/ready").statusCode()).isEqualTo(200);
    }

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static void send(KafkaProducer<String, byte[]> producer, String key, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>("bad.events", key, value)).get(30, TimeUnit.SECONDS);
    }
}
