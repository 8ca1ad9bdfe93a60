package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.PromLint;
import dev.sluice.testkit.SseReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.sluice.coordinator.TestCoordinators.awaitUntil;
import static dev.sluice.coordinator.TestCoordinators.firingFor;
import static dev.sluice.coordinator.TestCoordinators.resolvedFor;
import static dev.sluice.coordinator.TestCoordinators.topicStates;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The coordinator end to end through a real Kafka broker: fake nodes publish heartbeats and events with a real
 * producer, the coordinator (in this JVM, short for-durations) raises and resolves the pool, breaker and node-down
 * alerts, visible in the HTTP feed, the event stream and the alerts topic.
 */
class CoordinatorEndToEndTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final AtomicInteger RUN = new AtomicInteger();
    private static final Duration HEARTBEAT = Duration.ofMillis(200);

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private Coordinator start(String toml) {
        return TestCoordinators.startAndAwaitReady(toml, toClose);
    }

    private static String config(KafkaBroker broker, String events, String alerts, String alertsExtra) {
        return TestCoordinators.config(broker, events, alerts, "", alertsExtra);
    }

    private FakeNode node(KafkaBroker broker, String id, String topic) {
        FakeNode node = new FakeNode(id, broker.bootstrapServers(), topic, HEARTBEAT).start();
        toClose.add(node);
        return node;
    }

    @Test
    void poolBreakerAndNodeDownAlertsFireAndResolveThroughKafkaTheFeedTheStreamAndTheTopic(KafkaBroker broker)
            throws IOException {
        String events = "e2e.events." + RUN.incrementAndGet();
        String alerts = "e2e.alerts." + RUN.get();
        Coordinator coordinator = start(config(broker, events, alerts, ""));
        URI api = coordinator.uri();
        SseReader stream = new SseReader(api, "/api/alerts/stream");
        toClose.add(stream);
        awaitUntil(stream::connected);

        FakeNode n1 = node(broker, "n1", events);
        FakeNode n2 = node(broker, "n2", events);
        FakeNode n3 = node(broker, "n3", events);
        awaitUntil(() -> Http.json(api, "/api/cluster").path("nodesAlive").asInt() == 3);

        // Faults: n1's pool saturates, n2's Hub breaker opens, n3 dies without a word.
        n1.change(e -> e.pool(19, 20));
        n2.send(e -> e.breakerTransition(System.currentTimeMillis(), "hub", "CLOSED", "OPEN"));
        n3.silence();

        awaitUntil(() -> firingFor(api, "SluicePoolUsageHigh", "n1")
                && firingFor(api, "SluiceBreakerNotClosed", "n2")
                && firingFor(api, "SluiceNodeDown", "n3"));
        JsonNode pool = Http.alerts(api, "firing", "SluicePoolUsageHigh").getFirst();
        assertThat(pool.path("labels").path("severity").asText()).isEqualTo("warning");
        assertThat(pool.path("startsAt").isNull()).isFalse();
        assertThat(Http.alerts(api, "firing", "SluiceBreakerNotClosed").getFirst().path("labels").path("breaker")
                .asText()).isEqualTo("hub");
        JsonNode cluster = Http.json(api, "/api/cluster");
        assertThat(cluster.path("nodesAlive").asInt()).isEqualTo(2);
        assertThat(node(cluster, "n1").path("pool").path("active").asInt()).isEqualTo(19);
        assertThat(node(cluster, "n2").path("breakers").path("hub").path("state").asText()).isEqualTo("OPEN");
        assertThat(node(cluster, "n3").path("alive").asBoolean()).isFalse();

        for (String name : List.of("SluicePoolUsageHigh", "SluiceBreakerNotClosed", "SluiceNodeDown")) {
            awaitUntil(() -> !Http.events(stream, "firing", name).isEmpty());
        }
        assertThat(Http.events(stream, "pending", "SluicePoolUsageHigh")).hasSize(1);

        // The causes go away.
        n1.change(e -> e.pool(2, 20));
        n2.send(e -> e.breakerTransition(System.currentTimeMillis(), "hub", "OPEN", "CLOSED"));
        n3.resume();

        awaitUntil(() -> resolvedFor(api, "SluicePoolUsageHigh", "n1")
                && resolvedFor(api, "SluiceBreakerNotClosed", "n2")
                && resolvedFor(api, "SluiceNodeDown", "n3"));
        assertThat(Http.json(api, "/api/alerts").path("firing")).extracting(a -> a.path("rule").asText())
                .containsExactly("watchdog");
        JsonNode resolved = Http.alerts(api, "resolved", "SluicePoolUsageHigh").getFirst();
        assertThat(resolved.path("endsAt").asText()).isNotEmpty();
        assertThat(resolved.path("startsAt").asText()).isEqualTo(pool.path("startsAt").asText());
        for (String name : List.of("SluicePoolUsageHigh", "SluiceBreakerNotClosed", "SluiceNodeDown")) {
            awaitUntil(() -> !Http.events(stream, "resolved", name).isEmpty());
        }

        // The alerts topic: keyed by fingerprint, each alert firing then resolved.
        assertThat(coordinator.flushAlertTopic(Duration.ofSeconds(10))).isTrue();
        Map<String, List<String>> states = topicStates(broker, alerts);
        for (String name : List.of("SluicePoolUsageHigh", "SluiceBreakerNotClosed", "SluiceNodeDown")) {
            String fingerprint = Http.alerts(api, "resolved", name).getFirst().path("fingerprint").asText();
            assertThat(states.get(fingerprint)).as(name).containsExactly("firing", "resolved");
        }
        String watchdog = Http.json(api, "/api/alerts").path("firing").get(0).path("fingerprint").asText();
        assertThat(states.get(watchdog)).containsExactly("firing");
    }

    @Test
    void theHttpEndpointsAreReadOnlyAndReportHealthAndMetrics(KafkaBroker broker) {
        String events = "e2e.events." + RUN.incrementAndGet();
        Coordinator coordinator = start(config(broker, events, "e2e.alerts." + RUN.get(), ""));
        URI api = coordinator.uri();
        node(broker, "m1", events);
        awaitUntil(() -> Http.json(api, "/api/cluster").path("nodesAlive").asInt() == 1);

        assertThat(Http.get(api, "/health/live").statusCode()).isEqualTo(200);
        assertThat(Http.get(api, "/health/ready").statusCode()).isEqualTo(200);
        for (String path : List.of("/api/alerts", "/api/cluster", "/metrics", "/api/alerts/stream")) {
            var post = Http.request(api, "POST", path);
            assertThat(post.statusCode()).as(path).isEqualTo(405);
            assertThat(post.headers().firstValue("Allow")).contains("GET, HEAD");
        }
        assertThat(Http.request(api, "DELETE", "/api/alerts").statusCode()).isEqualTo(405);
        assertThat(Http.get(api, "/nope").statusCode()).isEqualTo(404);
        assertThat(Http.request(api, "HEAD", "/api/alerts").statusCode()).isEqualTo(200);

        awaitUntil(() -> Http.get(api, "/metrics").body().contains("sluice_coordinator_nodes_alive 1.0"));
        String metrics = Http.get(api, "/metrics").body();
        assertThat(metrics).contains("sluice_coordinator_alerts_firing{rule=\"watchdog\"} 1.0",
                "sluice_coordinator_alerts_firing{rule=\"pool_usage\"} 0.0",
                "sluice_coordinator_events_consumed_total{type=\"heartbeat\"}",
                "sluice_coordinator_events_skipped_total{reason=\"malformed\"} 0.0");
        assertThat(PromLint.problems(metrics)).as("what promtool check metrics would report").isEmpty();

        JsonNode one = Http.json(api, "/api/alerts?state=firing");
        assertThat(one.has("resolved")).isFalse();
        String fingerprint = one.path("firing").get(0).path("fingerprint").asText();
        assertThat(Http.json(api, "/api/alerts?fingerprint=" + fingerprint).path("rule").asText()).isEqualTo("watchdog");
        assertThat(Http.get(api, "/api/alerts?fingerprint=unknown").statusCode()).isEqualTo(404);
    }

    @Test
    void aKafkaOutageDoesNotMakeTheNodesLookDown(KafkaBroker broker) {
        String events = "e2e.events." + RUN.incrementAndGet();
        // Ten missed heartbeats (2 s) make a node down: more than the broker's shutdown takes to cut the nodes'
        // producers off before it stops answering the coordinator.
        Coordinator coordinator = start(config(broker, events, "e2e.alerts." + RUN.get(),
                "node_down_missed_heartbeats = 10"));
        URI api = coordinator.uri();
        node(broker, "k1", events);
        node(broker, "k2", events);
        awaitUntil(() -> Http.json(api, "/api/cluster").path("nodesAlive").asInt() == 2);

        broker.stop();
        try {
            // Heartbeats cannot arrive; ten missed ones (2 s) would call a node down, but the events are not
            // current, so for several seconds nothing may change.
            await().pollInterval(Duration.ofMillis(100)).during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(10))
                    .until(() -> Http.alerts(api, "firing", "SluiceNodeDown").isEmpty()
                            && Http.alerts(api, "pending", "SluiceNodeDown").isEmpty()
                            && Http.json(api, "/api/cluster").path("nodesAlive").asInt() == 2);
            assertThat(Http.get(api, "/metrics").body()).containsPattern("sluice_coordinator_events_staleness_seconds ([3-9]|[1-9][0-9])\\.");
        } finally {
            broker.start();
        }
        // Back: the events flow again and the nodes were never down.
        String before = Http.json(api, "/api/cluster").path("asOf").asText();
        awaitUntil(() -> Http.json(api, "/api/cluster").path("asOf").asText().compareTo(before) > 0
                && Http.get(api, "/metrics").body().contains("sluice_coordinator_nodes_alive 2.0"));
        assertThat(Http.json(api, "/api/alerts").path("resolved")).isEmpty();
    }

    private static JsonNode node(JsonNode cluster, String id) {
        for (JsonNode n : cluster.path("nodes")) {
            if (n.path("id").asText().equals(id)) {
                return n;
            }
        }
        throw new AssertionError("no node " + id + " in " + cluster);
    }
}
