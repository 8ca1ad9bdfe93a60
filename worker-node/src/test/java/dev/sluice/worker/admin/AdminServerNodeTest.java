package dev.sluice.worker.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.PromLint;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.WorkerNode;
import dev.sluice.worker.WorkerNodeStatus;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The admin endpoint of a real worker node on a real Redis, calling a Hub simulator. */
class AdminServerNodeTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PASSWORD = "hunter2-9f3a";
    private static final String TOKEN = "admin-t0ken-77";

    private final HttpClient http = HttpClient.newHttpClient();
    private HubSimulator hub;
    private WorkerNode node;
    private AdminServer admin;
    private Jedis control;
    private boolean passwordSet;

    @BeforeEach
    void startHub() {
        hub = HubSimulator.builder().port(0).build().start();
        // Opened before a test sets a password, so it stays authenticated to take it away again.
        control = redis.server().newJedis();
    }

    @AfterEach
    void stopAll() {
        if (admin != null) {
            admin.stop();
        }
        if (node != null) {
            node.close();
        }
        hub.stop();
        http.close();
        if (passwordSet) {
            control.configSet("requirepass", "");
        }
        control.close();
    }

    private void startNode(String redisUrl, Duration maxStatsAge) {
        SluiceConfig config = ConfigLoader.parse("""
                [node]
                id = "admin-test-node"
                concurrency = 16
                drain_timeout_secs = 2
                [redis]
                url = "%s"
                [hub]
                base_url = "%s"
                max_requests_per_second = 500
                max_concurrent_connections = 16
                [sink]
                kind = "redis"
                [metrics]
                port = 0
                bind = "127.0.0.1"
                token = "%s"
                """.formatted(redisUrl, hub.baseUrl(), TOKEN), Map.of());
        PrometheusMeterRegistry registry = NodeMeters.registry();
        node = new WorkerNode(config, registry);
        admin = new AdminServer(config.metrics(), registry, new WorkerNodeStatus(node, Clock.systemUTC(), maxStatsAge)).start();
        node.start();
    }

    private HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(admin.uri().resolve(path))
                .method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString("x"))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesHealthMetricsAndStatusOfARunningNodeWithoutItsSecrets() throws Exception {
        control.configSet("requirepass", PASSWORD);
        passwordSet = true;
        String url = "redis://:" + PASSWORD + "@" + redis.server().host() + ":" + redis.server().port();
        startNode(url, WorkerNodeStatus.DEFAULT_MAX_STATS_AGE);
        node.queue().enqueue(IntStream.rangeClosed(1, 20).mapToObj(i -> Job.of("k" + i)).toList());

        assertThat(send("GET", "/health/live").statusCode()).isEqualTo(200);
        // A fresh fleet grants nothing for a lease plus the quiet time (12 s with the defaults): not ready until then.
        await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(send("GET", "/health/ready").statusCode()).isEqualTo(200));
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                .until(() -> control.keys("sluice:result:*").size() == 20);

        HttpResponse<String> metrics = send("GET", "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(metrics.body().lines())
                .anyMatch(l -> l.matches("sluice_jobs_in_flight(\\{.*})? \\S+"))
                .anyMatch(l -> l.matches("sluice_redis_pool_active(\\{.*})? \\S+"))
                .anyMatch(l -> l.matches("sluice_redis_pool_max(\\{.*})? 20\\.0"))
                .anyMatch(l -> l.startsWith("sluice_jobs_total{") && l.contains("outcome=\"done\""))
                .anyMatch(l -> l.matches("sluice_queue_oldest_waiting_age_seconds \\S+"))
                .anyMatch(l -> l.matches("process_cpu_seconds_total \\S+"))
                .anyMatch(l -> l.matches("system_cpus \\S+"))
                // The fleet limiter binds its own meters.
                .anyMatch(l -> l.matches("sluice_limiter_degraded 0\\.0"))
                .anyMatch(l -> l.matches("sluice_limiter_permits_held \\S+"))
                .anyMatch(l -> l.matches("sluice_limiter_store_calls_total \\S+"))
                // Each package binds its own meters; counts since start are counters.
                .anyMatch(l -> l.matches("sluice_hub_requests_total [1-9]\\S*"))
                .anyMatch(l -> l.matches("sluice_redis_operations_total [1-9]\\S*"))
                .anyMatch(l -> l.matches("sluice_redis_failures_total \\S+"))
                .anyMatch(l -> l.matches("sluice_limiter_fallbacks_total \\S+"))
                .anyMatch(l -> l.matches("sluice_fleet_paused 0\\.0"))
                .anyMatch(l -> l.matches("sluice_cluster_members 1\\.0"))
                .anyMatch(l -> l.matches("sluice_queue_waiting \\S+"))
                .anyMatch(l -> l.equals("# TYPE sluice_hub_timeouts_total counter"))
                .anyMatch(l -> l.matches("resilience4j_circuitbreaker_state\\{.*name=\"hub\".*state=\"closed\".*} 1\\.0"))
                .noneMatch(l -> l.startsWith("sluice_hub_requests ") || l.startsWith("sluice_hub_breaker_state"))
                .noneMatch(l -> l.startsWith("process_cpu_time_ns_total") || l.startsWith("system_cpu_count"));
        assertThat(PromLint.problems(metrics.body())).as("what promtool check metrics would report").isEmpty();

        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            JsonNode s = JSON.readTree(send("GET", "/api/status").body());
            assertThat(s.get("queueStats").get("waiting").asLong()).isZero();
        });
        HttpResponse<String> status = send("GET", "/api/status");
        assertThat(status.statusCode()).isEqualTo(200);
        assertThat(status.body()).doesNotContain(PASSWORD).doesNotContain(TOKEN);
        JsonNode s = JSON.readTree(status.body());
        assertThat(s.get("nodeId").asText()).isEqualTo("admin-test-node");
        assertThat(s.get("running").asBoolean()).isTrue();
        assertThat(s.get("queue").get("mode").asText()).isEqualTo("stream");
        assertThat(s.get("queue").get("key").asText()).isEqualTo("sluice:jobs");
        JsonNode pool = s.get("pool");
        for (String field : List.of("max", "active", "idle", "waiters", "meanBorrowWaitMs", "availability", "borrowTimeouts")) {
            assertThat(pool.has(field)).as("pool." + field).isTrue();
        }
        assertThat(pool.get("max").asInt()).isEqualTo(20);
        assertThat(pool.get("availability").asDouble()).isBetween(0.0, 1.0);
        assertThat(s.get("underPressure").asBoolean()).isFalse();
        JsonNode cluster = s.get("cluster");
        assertThat(cluster.get("members").asInt()).isEqualTo(1);
        assertThat(cluster.get("nodes").get(0).asText()).isEqualTo("admin-test-node");
        assertThat(cluster.get("majority").asBoolean()).isTrue();
        assertThat(s.get("pressureThreshold").asDouble()).isEqualTo(0.2);
        assertThat(s.get("inFlight").asInt()).isZero();
        assertThat(s.get("pausedBy").isArray()).isTrue();
        assertThat(s.get("queueStats").get("dead").asLong()).isZero();
        assertThat(s.get("config").get("redis").get("url").asText()).isEqualTo("redis://:***@" + redis.server().host()
                + ":" + redis.server().port());
        assertThat(s.get("config").get("metrics").get("token").asText()).isEqualTo("***");

        for (String path : List.of("/health/live", "/health/ready", "/metrics", "/api/status")) {
            assertThat(send("POST", path).statusCode()).as("POST " + path).isEqualTo(405);
        }
    }

    @Test
    void becomesUnreadyWhenRedisGoesAwayAndWhenTheNodeStops() throws Exception {
        startNode(redis.url(), Duration.ofMillis(2_500));
        // A fresh fleet grants nothing for a lease plus the quiet time (12 s with the defaults): not ready until then.
        await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(send("GET", "/health/ready").statusCode()).isEqualTo(200));

        redis.server().stop();

        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            HttpResponse<String> r = send("GET", "/health/ready");
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(JSON.readTree(r.body()).get("reason").asText()).contains("Redis is not answering");
        });
        assertThat(send("GET", "/health/live").statusCode()).isEqualTo(200);

        redis.server().start();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertThat(send("GET", "/health/ready").statusCode()).isEqualTo(200));

        node.stop();
        HttpResponse<String> stopped = send("GET", "/health/ready");
        assertThat(stopped.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(stopped.body()).get("reason").asText()).contains("not running");
        node = null;
    }
}
