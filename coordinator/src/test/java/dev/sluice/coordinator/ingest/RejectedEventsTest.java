package dev.sluice.coordinator.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload.Counters;
import dev.sluice.common.event.EventPayload.Heartbeat;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.coordinator.FakeNode;
import dev.sluice.coordinator.Http;
import dev.sluice.coordinator.TestCoordinators;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.sluice.coordinator.TestCoordinators.awaitUntil;
import static dev.sluice.coordinator.TestCoordinators.firingFor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Events whose values no node sends (found by an outside tester: a huge heartbeat interval kept a node alive forever
 * and stopped every alert evaluation) are rejected and counted by reason through a real broker, while the good
 * nodes' alerts go on being evaluated.
 */
class RejectedEventsTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String EVENTS = "rejected.events";

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void bogusEventsAreRejectedAndCountedWhileAGoodNodesAlertsStillEvaluate(KafkaBroker broker) throws Exception {
        Coordinator coordinator = TestCoordinators.start(broker, EVENTS, "rejected.alerts", toClose);
        URI api = coordinator.uri();
        FakeNode good = new FakeNode("good", broker.bootstrapServers(), EVENTS, Duration.ofMillis(200)).start();
        toClose.add(good);
        good.change(e -> e.pool(19, 20));

        long now = System.currentTimeMillis();
        String hugeId = "x".repeat(10_000);
        try (KafkaProducer<String, byte[]> producer = FakeNode.producer(broker.bootstrapServers())) {
            // A node that starts, announces an absurd interval, and dies.
            TestEvents liar = new TestEvents("liar").intervalMs(200);
            send(producer, "liar", liar.started(now));
            send(producer, "liar", liar.intervalMs(Long.MAX_VALUE).heartbeat(now));

            TestEvents bogus = new TestEvents("bogus");
            send(producer, "bogus", bogus.event(now, heartbeat(1_000_000_000_000_000L, counters(10), pool(0.9))));
            send(producer, "bogus", bogus.event(now, heartbeat(200, counters(-1), pool(0.9))));
            send(producer, "bogus", bogus.event(now, heartbeat(200, counters(10), pool(Double.NaN))));
            send(producer, "bogus", bogus.event(now + Duration.ofDays(400).toMillis(),
                    heartbeat(200, counters(10), pool(0.9))));
            send(producer, "huge", new TestEvents(hugeId).heartbeat(now));
            // A pool sample with its fields missing would read as a pool of no connections, all in use.
            send(producer, "bogus", json("{\"v\":1,\"type\":\"heartbeat\",\"node\":\"bogus\",\"ts\":" + now
                    + ",\"seq\":9,\"payload\":{\"intervalMs\":200,\"pool\":{}}}"));
            // Envelopes with missing fields, an unknown version, not JSON at all.
            send(producer, "bogus", json("{\"v\":1,\"type\":\"heartbeat\",\"node\":\"bogus\",\"ts\":" + now
                    + ",\"payload\":{\"intervalMs\":200}}"));
            send(producer, "bogus", json("{\"v\":1,\"type\":\"heartbeat\",\"ts\":" + now
                    + ",\"seq\":10,\"payload\":{\"intervalMs\":200}}"));
            send(producer, "bogus", json("{\"v\":99,\"type\":\"heartbeat\",\"node\":\"bogus\",\"ts\":" + now
                    + ",\"seq\":11,\"payload\":{}}"));
            send(producer, "bogus", "\u0000\u0001 not json".getBytes(StandardCharsets.UTF_8));
        }

        awaitUntil(() -> {
            JsonNode ingest = Http.json(api, "/api/cluster").path("ingest");
            JsonNode rejected = ingest.path("rejected");
            JsonNode skipped = ingest.path("skipped");
            return rejected.path("invalid-heartbeat-interval").asInt() == 2
                    && rejected.path("invalid-counters").asInt() == 1
                    && rejected.path("invalid-pool-sample").asInt() == 2
                    && rejected.path("invalid-timestamp").asInt() == 1
                    && rejected.path("invalid-node-id").asInt() == 1
                    && skipped.path("malformed").asInt() == 3
                    && skipped.path("unsupported-version").asInt() == 1;
        });
        String metrics = Http.get(api, "/metrics").body();
        assertThat(metrics).contains(
                "sluice_coordinator_events_rejected_total{reason=\"invalid-heartbeat-interval\"} 2.0",
                "sluice_coordinator_events_rejected_total{reason=\"invalid-counters\"} 1.0",
                "sluice_coordinator_events_rejected_total{reason=\"invalid-pool-sample\"} 2.0",
                "sluice_coordinator_events_rejected_total{reason=\"invalid-timestamp\"} 1.0",
                "sluice_coordinator_events_rejected_total{reason=\"invalid-node-id\"} 1.0",
                "sluice_coordinator_events_rejected_total{reason=\"too-many-nodes\"} 0.0",
                "sluice_coordinator_events_skipped_total{reason=\"malformed\"} 3.0")
                .doesNotContain(hugeId);

        // The good node's pool alert fires, and so does the liar's node-down: its absurd interval did not keep it
        // alive, nor stop the evaluation.
        awaitUntil(() -> firingFor(api, "SluicePoolUsageHigh", "good") && firingFor(api, "SluiceNodeDown", "liar"));
        JsonNode cluster = Http.json(api, "/api/cluster");
        assertThat(cluster.path("nodes")).extracting(n -> n.path("id").asText()).containsExactly("good", "liar");
        assertThat(cluster.path("nodes").get(1).path("heartbeatIntervalMs").asLong()).isEqualTo(200);
        assertThat(firingFor(api, "SluiceNodeDown", "good")).isFalse();
        assertThat(Http.get(api, "/metrics").body()).contains("sluice_coordinator_evaluation_failures_total 0.0",
                "sluice_coordinator_evaluation_rule_failures_total{rule=\"node_down\"} 0.0");
        assertThat(Http.get(api, "/health/ready").statusCode()).isEqualTo(200);
    }

    private static Heartbeat heartbeat(long intervalMs, Counters counters, PoolSample pool) {
        return new Heartbeat(intervalMs, counters, pool, Map.of("hub", "CLOSED"), "ok", null);
    }

    private static Counters counters(long jobsDone) {
        return new Counters(jobsDone, Map.of(), 0, 0, 0, 0, 0, 10, 0, 0, 0);
    }

    private static PoolSample pool(double availability) {
        return new PoolSample(20, 2, 18, 0, 0.5, availability);
    }

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static void send(KafkaProducer<String, byte[]> producer, String key, Event event) throws Exception {
        send(producer, key, EventCodec.encode(event));
    }

    private static void send(KafkaProducer<String, byte[]> producer, String key, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(EVENTS, key, value)).get(30, TimeUnit.SECONDS);
    }
}
