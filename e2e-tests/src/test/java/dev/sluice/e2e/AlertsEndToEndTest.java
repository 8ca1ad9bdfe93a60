package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.Alertmanager;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.testkit.SseReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.args.ClientPauseMode;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * Real faults on real worker processes raise the coordinator's alerts, and each alert reaches every output: the
 * alerts topic (keyed by fingerprint), the HTTP feed, the server-sent event stream, and a real Prometheus
 * Alertmanager, which lists it through its own API. When the cause goes away each resolves everywhere: gone from
 * Alertmanager's list, resolved in the feed, the stream and the topic.
 *
 * <p>The coordinator runs in this JVM with for-durations of 1 s; nodes heartbeat every second.
 */
class AlertsEndToEndTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String POOL = "SluicePoolUsageHigh";
    private static final String NODE_DOWN = "SluiceNodeDown";
    private static final String BREAKER = "SluiceBreakerNotClosed";
    private static final String REDIS_ERRORS = "SluiceRedisErrorRateHigh";

    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private String events;
    private String alertsTopic;
    private Alertmanager alertmanager;
    private Coordinator coordinator;
    private URI api;
    private SseReader stream;

    @BeforeEach
    void startCoordinatorAndAlertmanager(TestInfo test) {
        assumeThat(Alertmanager.installed()).as("prometheus-alertmanager is installed at " + Alertmanager.BINARY)
                .isTrue();
        String name = test.getTestMethod().orElseThrow().getName();
        events = "alerts-e2e." + name + ".events";
        alertsTopic = "alerts-e2e." + name + ".alerts";
        alertmanager = closeLater(Alertmanager.start(dir.resolve("alertmanager")));
        coordinator = closeLater(Coordinators.config(kafka.bootstrapServers(), events, alertsTopic)
                .alerts("rate_window_secs", 10).webhook(alertmanager).startInProcess());
        api = coordinator.uri();
        stream = closeLater(new SseReader(api, "/api/alerts/stream"));
        awaitUntil(Duration.ofSeconds(10), stream::connected);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void aSaturatedRedisPoolRaisesThePoolUsageAlertEverywhereAndItResolvesWhenTheCauseGoesAway() {
        // A slow Hub and two job slots: about ten jobs a second, each ending in a sink write and an acknowledgement
        // on the node's pool of two connections. Writes paused on Redis keep both borrowed: the sink's write and the
        // maintenance thread's script block in Redis while holding their connections (usage 2/2), and nothing
        // times out meanwhile (connection_timeout_ms 30 s, the pause at most 20 s).
        HubSimulator hub = closeLater(HubSimulator.builder().latencyMs(200).build().start());
        try (Jedis j = redis.server().newJedis()) {
            enqueue(j, "pool", 1_000);
            NodeProcess node = closeLater(Workers.startAndAwait(worker("pool-1", hub)
                    .env("SLUICE_REDIS_POOL_SIZE", "2")
                    .env("SLUICE_REDIS_CONNECTION_TIMEOUT_MS", "30000")
                    .env("SLUICE_NODE_CONCURRENCY", "2"), "pool-1"));
            awaitUntil(Duration.ofSeconds(30), () -> Http.clusterNode(api, "pool-1").path("alive").asBoolean()
                    && Http.clusterNode(api, "pool-1").has("pool") && hub.stats().count(200) >= 10);
            assertThat(Http.alerts(api, "firing", POOL, "pool-1")).as("no pool alert before the fault").isEmpty();

            Instant injected = Instant.now();
            j.clientPause(20_000, ClientPauseMode.WRITE);
            JsonNode firing;
            try {
                firing = awaitFiringEverywhere(POOL, "pool-1");
                JsonNode seen = Http.clusterNode(api, "pool-1").path("pool");
                assertThat(seen.path("usage").asDouble()).as("pool usage the coordinator saw").isGreaterThan(0.8);
                System.out.printf("pool alert firing in the feed %d ms after the writes were paused%n",
                        Duration.between(injected, Instant.now()).toMillis());
            } finally {
                j.clientUnpause();
            }
            awaitResolvedEverywhere(POOL, "pool-1", firing);
            assertThat(node.isAlive()).isTrue();
        }
    }

    @Test
    void aSigkilledWorkerRaisesNodeDownEverywhereAndItResolvesWhenTheNodeComesBack() {
        NodeProcess doomed = closeLater(Workers.startAndAwait(worker("doomed-1", null), "doomed-1"));
        awaitUntil(Duration.ofSeconds(30), () -> Http.clusterNode(api, "doomed-1").path("alive").asBoolean());

        doomed.kill();
        assertThat(doomed.exitCode()).hasValue(137);
        JsonNode firing = awaitFiringEverywhere(NODE_DOWN, "doomed-1");
        assertThat(firing.path("labels").path("severity").asText()).isEqualTo("critical");
        assertThat(Http.clusterNode(api, "doomed-1").path("alive").asBoolean()).isFalse();

        // The node comes back under the same id (a restarted pod): it is alive again and the alert resolves.
        closeLater(Workers.startAndAwait(worker("doomed-1", null), "doomed-1"));
        awaitResolvedEverywhere(NODE_DOWN, "doomed-1", firing);
        JsonNode back = Http.clusterNode(api, "doomed-1");
        assertThat(back.path("alive").asBoolean()).isTrue();
        assertThat(back.path("restarts").asInt()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aHubOutageOpensTheBreakerAndRaisesTheBreakerAlertEverywhereAndItResolvesWhenTheHubIsBack() {
        assumeThat(Workers.hasCircuitBreaker())
                .as("the worker has a Hub circuit breaker that publishes breaker-transition events (no class under "
                        + "dev.sluice.worker with 'Breaker' in its name yet: the breaker lands on main from another "
                        + "branch)")
                .isTrue();
        HubSimulator hub = closeLater(HubSimulator.builder().latencyMs(20).build().start());
        try (Jedis j = redis.server().newJedis()) {
            enqueue(j, "hub", 5_000);
            closeLater(Workers.startAndAwait(worker("breaker-1", hub)
                    .env("SLUICE_NODE_CONCURRENCY", "4")
                    .env("SLUICE_BREAKER_FAILURE_THRESHOLD", "5")
                    .env("SLUICE_BREAKER_OPEN_SECS", "2"), "breaker-1"));
            awaitUntil(Duration.ofSeconds(30), () -> hub.stats().count(200) >= 10);

            hub.startOutage(503);
            JsonNode firing;
            try {
                firing = awaitFiringEverywhere(BREAKER, "breaker-1");
                assertThat(firing.path("labels").path("breaker").asText()).isNotEmpty();
            } finally {
                hub.endOutage();
            }
            awaitResolvedEverywhere(BREAKER, "breaker-1", firing);
        }
    }

    @Test
    void redisRefusingWritesRaisesTheRedisErrorAlertEverywhereAndItResolvesWhenRedisTakesWritesAgain() {
        // Redis full under noeviction: the node's writes are refused (it counts them, stops taking work and keeps
        // its jobs pending); its heartbeats carry the failures, a cluster-wide rate over a 10 s window here.
        HubSimulator hub = closeLater(HubSimulator.builder().latencyMs(20).build().start());
        try (Jedis j = redis.server().newJedis()) {
            enqueue(j, "full", 2_000);
            NodeProcess node = closeLater(Workers.startAndAwait(worker("full-1", hub), "full-1"));
            awaitUntil(Duration.ofSeconds(30), () -> Http.clusterNode(api, "full-1").path("alive").asBoolean()
                    && hub.stats().count(200) >= 20);
            assertThat(Http.alerts(api, "firing", REDIS_ERRORS, null)).as("no Redis alert before the fault").isEmpty();

            Instant injected = Instant.now();
            j.configSet("maxmemory-policy", "noeviction");
            j.configSet("maxmemory", "1");
            JsonNode firing;
            try {
                firing = awaitFiringEverywhere(REDIS_ERRORS, null);
                System.out.printf("Redis error alert firing in the feed %d ms after Redis filled up%n",
                        Duration.between(injected, Instant.now()).toMillis());
            } finally {
                j.configSet("maxmemory", "0");
            }
            awaitResolvedEverywhere(REDIS_ERRORS, null, firing);
            // Nothing lost meanwhile: every job ends with its result.
            awaitUntil(Duration.ofSeconds(120), () -> j.keys("sluice:result:*").size() == 2_000);
            assertThat(j.xlen("sluice:dead")).isZero();
            assertThat(node.isAlive()).isTrue();
        }
    }

    private NodeProcess.Builder worker(String nodeId, HubSimulator hub) {
        return Workers.worker(nodeId, redis.url(), kafka.bootstrapServers(), events,
                hub == null ? "http://127.0.0.1:9" : hub.baseUrl());
    }

    /** The alert fires in the feed, the stream and Alertmanager; returns it as the feed shows it. */
    private JsonNode awaitFiringEverywhere(String alertname, String node) {
        awaitUntil(Duration.ofSeconds(30), () -> !Http.alerts(api, "firing", alertname, node).isEmpty());
        JsonNode firing = Http.alerts(api, "firing", alertname, node).getFirst();
        awaitUntil(Duration.ofSeconds(10), () -> !Http.events(stream, "firing", alertname, node).isEmpty());
        awaitUntil(Duration.ofSeconds(10), () -> !Http.listed(alertmanager, alertname, node).isEmpty());
        JsonNode listed = Http.listed(alertmanager, alertname, node).getFirst();
        assertThat(listed.path("status").path("state").asText()).isIn("active", "unprocessed");
        // Alertmanager keeps times to the millisecond.
        assertThat(Instant.parse(listed.path("startsAt").asText()))
                .isEqualTo(Instant.parse(firing.path("startsAt").asText()).truncatedTo(ChronoUnit.MILLIS));
        assertThat(listed.path("generatorURL").asText()).startsWith("http://coordinator.e2e:8081/api/alerts");
        assertThat(listed.path("annotations").path("summary").asText()).isNotEmpty();
        return firing;
    }

    /** The alert is resolved in the feed and the stream, gone from Alertmanager, firing then resolved on the topic. */
    private void awaitResolvedEverywhere(String alertname, String node, JsonNode firing) {
        awaitUntil(Duration.ofSeconds(30), () -> !Http.alerts(api, "resolved", alertname, node).isEmpty()
                && Http.alerts(api, "firing", alertname, node).isEmpty());
        JsonNode resolved = Http.alerts(api, "resolved", alertname, node).getFirst();
        String fingerprint = firing.path("fingerprint").asText();
        assertThat(resolved.path("fingerprint").asText()).isEqualTo(fingerprint);
        assertThat(resolved.path("startsAt").asText()).isEqualTo(firing.path("startsAt").asText());
        assertThat(resolved.path("endsAt").asText()).isNotEmpty();
        awaitUntil(Duration.ofSeconds(10), () -> !Http.events(stream, "resolved", alertname, node).isEmpty());
        awaitUntil(Duration.ofSeconds(30), () -> Http.listed(alertmanager, alertname, node).isEmpty());

        assertThat(coordinator.flushAlertTopic(Duration.ofSeconds(10))).isTrue();
        Map<String, List<String>> states = AlertsTopic.states(kafka.bootstrapServers(), alertsTopic);
        assertThat(states.get(fingerprint)).as("the alerts topic's records for " + alertname + " on " + node)
                .containsExactly("firing", "resolved");
    }

    private static void enqueue(Jedis j, String prefix, int jobs) {
        Pipeline p = j.pipelined();
        for (int i = 0; i < jobs; i++) {
            p.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", prefix + "-" + i));
        }
        p.sync();
    }

    private static void awaitUntil(Duration atMost, Callable<Boolean> condition) {
        await().pollInterval(Duration.ofMillis(100)).atMost(atMost).until(condition);
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }
}
