package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Records that are not readable events land on the events topic among a real worker's: malformed ones, a heartbeat
 * of a future schema version (claiming the real node's pool is full) and an unknown type. The coordinator skips and
 * counts each by reason, acts on none of them, and keeps taking the real node's heartbeats.
 */
class MalformedEventsAmongRealNodesTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String NODE = "steady-1";
    private static final String EVENTS = "garbage.events";

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void unreadableRecordsAmongARealNodesEventsAreSkippedAndCountedAndChangeNothing() {
        Coordinator coordinator = closeLater(Coordinators.config(kafka.bootstrapServers(), EVENTS, "garbage.alerts")
                .startInProcess());
        URI api = coordinator.uri();
        toClose.add(Workers.startAndAwait(Workers.worker(NODE, redis.url(), kafka.bootstrapServers(), EVENTS,
                "http://127.0.0.1:9"), NODE));
        await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30))
                .until(() -> Http.clusterNode(api, NODE).path("alive").asBoolean());

        String future = """
                {"v":2,"type":"heartbeat","node":"%s","ts":%d,"seq":1000000,"payload":{"intervalMs":1000,
                "pool":{"max":2,"active":2,"idle":0,"waiters":9,"meanBorrowWaitMs":900.0,"availability":0.0}}}"""
                .formatted(NODE, System.currentTimeMillis());
        EventsTopic.send(kafka.bootstrapServers(), EVENTS, List.of(
                raw(NODE, "{nope"),
                new EventsTopic.Raw(NODE, null),
                raw(NODE, "[1,2,3]"),
                raw(NODE, "{\"v\":1,\"type\":\"pool-pressure\",\"node\":\"" + NODE + "\",\"ts\":1,\"seq\":3,"
                        + "\"payload\":{\"entered\":\"maybe\"}}"),
                raw(NODE, future),
                raw(NODE, "{\"v\":1,\"type\":\"node-exploded\",\"node\":\"" + NODE + "\",\"ts\":1,\"seq\":2,"
                        + "\"payload\":{}}")));
        long heartbeatsThen = heartbeats(api);

        await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30)).until(() -> {
            JsonNode skipped = Http.json(api, "/api/cluster").path("ingest").path("skipped");
            return skipped.path("malformed").asInt() == 4 && skipped.path("unsupported-version").asInt() == 1
                    && skipped.path("unknown-type").asInt() == 1;
        });
        assertThat(Http.get(api, "/metrics").body()).contains(
                "sluice_coordinator_events_skipped_total{reason=\"malformed\"} 4.0",
                "sluice_coordinator_events_skipped_total{reason=\"unsupported-version\"} 1.0",
                "sluice_coordinator_events_skipped_total{reason=\"unknown-type\"} 1.0");
        // Still consuming the real node, which stays alive; the future heartbeat's full pool was not believed: no pool
        // alert after well over its for-duration (1 s) and three heartbeats.
        await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30))
                .until(() -> heartbeats(api) >= heartbeatsThen + 3);
        JsonNode node = Http.clusterNode(api, NODE);
        assertThat(node.path("alive").asBoolean()).isTrue();
        assertThat(node.path("pool").path("usage").asDouble()).isLessThan(0.8);
        JsonNode alerts = Http.json(api, "/api/alerts");
        assertThat(alerts.path("firing")).extracting(a -> a.path("rule").asText()).containsExactly("watchdog");
        assertThat(alerts.path("pending")).isEmpty();
        assertThat(Http.get(api, "/health/ready").statusCode()).isEqualTo(200);
    }

    private static long heartbeats(URI api) {
        return Http.json(api, "/api/cluster").path("ingest").path("consumed").path("heartbeat").asLong();
    }

    private static EventsTopic.Raw raw(String key, String value) {
        return new EventsTopic.Raw(key, value.getBytes(StandardCharsets.UTF_8));
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }
}
