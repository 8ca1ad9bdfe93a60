package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.control.FleetRecord;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.coordinator.Http;
import dev.sluice.coordinator.TestCoordinators;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The operations' HTTP API against a real Redis and a real Kafka broker: what the page's buttons and scripts call.
 * The pause lives in the fleet's record, so it outlives the coordinator; a full Redis refuses a change in its own
 * words, and the dashboard, which only reads, keeps working.
 */
class OperationsApiTest {

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "ops-api-test-token-0001";
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        try (Jedis j = redis.server().newJedis()) {
            j.configSet("maxmemory", "0");
        }
    }

    private Coordinator start(KafkaBroker broker) {
        String toml = TestCoordinators.config(broker, "ops.events", "ops.alerts",
                "tokens = { tester = \"" + TOKEN + "\" }", """
                [redis]
                url = "%s"
                [cluster]
                name = "ops"
                """.formatted(redis.url()));
        return TestCoordinators.startAndAwaitReady(toml, toClose);
    }

    private static HttpResponse<String> post(URI base, String path, String body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static boolean pausedInRedis() {
        try (Jedis j = redis.server().newJedis()) {
            var state = new FleetRecord("ops").read(j);
            return state != null && state.pause().paused();
        }
    }

    @Test
    void thePauseOutlivesTheCoordinatorAndAFullRedisRefusesAChangeInItsOwnWordsWhileThePageStillReads(KafkaBroker broker)
            throws Exception {
        Coordinator first = start(broker);
        HttpResponse<String> paused = post(first.uri(), "/api/fleet/pause", "{\"reason\":\"vendor maintenance\"}");
        assertThat(paused.statusCode()).as(paused.body()).isEqualTo(200);
        assertThat(pausedInRedis()).isTrue();
        first.close();
        toClose.remove(first);

        Coordinator second = start(broker);
        JsonNode view = Http.json(second.uri(), "/api/dashboard");
        assertThat(view.path("fleet").path("pause").path("paused").asBoolean()).isTrue();
        assertThat(view.path("fleet").path("pause").path("by").asText()).isEqualTo("tester");
        assertThat(view.path("fleet").path("pause").path("reason").asText()).isEqualTo("vendor maintenance");

        try (Jedis j = redis.server().newJedis()) {
            long used = Long.parseLong(j.info("memory").lines().filter(l -> l.startsWith("used_memory:"))
                    .findFirst().orElseThrow().substring("used_memory:".length()).strip());
            j.configSet("maxmemory-policy", "noeviction");
            j.configSet("maxmemory", Long.toString(Math.max(1, used / 2)));
        }
        HttpResponse<String> refused = post(second.uri(), "/api/fleet/resume", "{}");
        assertThat(refused.statusCode()).isEqualTo(503);
        String error = JSON.readTree(refused.body()).path("error").asText();
        assertThat(error).contains("refused it").contains("OOM").doesNotContain("cannot be reached");
        assertThat(pausedInRedis()).as("nothing changed").isTrue();
        JsonNode whileFull = Http.json(second.uri(), "/api/dashboard");
        assertThat(whileFull.path("fleet").has("problem")).as("reads work while Redis is full").isFalse();
        assertThat(whileFull.path("fleet").path("pause").path("paused").asBoolean()).isTrue();

        try (Jedis j = redis.server().newJedis()) {
            j.configSet("maxmemory", "0");
        }
        HttpResponse<String> resumed = post(second.uri(), "/api/fleet/resume", "{}");
        assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(200);
        assertThat(pausedInRedis()).isFalse();
    }

    @Test
    void aBodyOverTheLimitIsRefusedAndChangesNothing(KafkaBroker broker) throws Exception {
        Coordinator coordinator = start(broker);
        HttpResponse<String> big = post(coordinator.uri(), "/api/fleet/pause",
                "{\"reason\":\"" + "x".repeat(40 * 1024) + "\"}");
        assertThat(big.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(big.body()).path("error").asText()).contains("at most 32768 bytes");
        assertThat(pausedInRedis()).isFalse();
    }
}
