package dev.sluice.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.RedisExtension;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Live limits as an operator meets them, on two real worker processes: the record seeded by the first node's
 * configuration, a node whose file says otherwise following the fleet and saying so, {@code sluice limits show} and
 * {@code set}, {@code POST /api/limits} refused without the token and with bad input, a compare-and-set refused when
 * the record moved, {@code /api/status} showing the value and its source on every node within 2 s, and every version
 * each node took up published on Kafka.
 */
class LiveLimitsProcessTest {
    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "limits-test-token";

    @Test
    void operatorsChangeTheFleetsLimitsWithTheCliAndTheTokenProtectedEndpointAndEveryNodeFollows() throws Exception {
        String topic = "limits-events-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        try (HubSimulator hub = HubSimulator.builder().build().start();
             HttpClient http = HttpClient.newHttpClient();
             FleetNodes fleet = FleetNodes.start("limits", List.of(FleetNodes.Placement.loopback(),
                             new FleetNodes.Placement("127.0.0.1", List.of(), Map.of(
                                     "SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "500",
                                     "SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "50"))),
                     Map.of("SLUICE_REDIS_URL", redis.url(), "SLUICE_HUB_BASE_URL", hub.baseUrl(),
                             "SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "50", "SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "5",
                             "SLUICE_METRICS_TOKEN", TOKEN, "SLUICE_KAFKA_ENABLED", "true",
                             "SLUICE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers(),
                             "SLUICE_KAFKA_EVENTS_TOPIC", topic),
                     Duration.ofSeconds(90))) {
            String cluster = fleet.nodes().getFirst().status().path("cluster").path("name").asText();
            Map<String, String> cliEnv = Map.of("SLUICE_REDIS_URL", redis.url(), "SLUICE_CLUSTER_NAME", cluster);

            // Seeded once, by whichever node read the record first; the other follows it.
            CliRun show = CliRun.run(cliEnv, "", "limits", "show", "--json");
            assertThat(show.exitCode()).as(show.toString()).isZero();
            JsonNode seeded = JSON.readTree(show.out());
            String seeder = seeded.path("changedBy").asText().replace("config of ", "");
            assertThat(seeder).isIn("limits-1", "limits-2");
            int seededRps = seeder.equals("limits-1") ? 50 : 500;
            assertThat(seeded.path("maxRequestsPerSecond").asInt()).isEqualTo(seededRps);
            for (FleetNodes.Node node : fleet.nodes()) {
                JsonNode limits = node.status().path("cluster").path("fleetLimits");
                assertThat(limits.path("maxRequestsPerSecond").asInt()).as(node.id()).isEqualTo(seededRps);
                assertThat(limits.path("source").asText()).contains("fleet record sluice:limits:fleet:" + cluster)
                        .contains("seeded from the config of " + seeder);
                boolean sameFile = node.id().equals(seeder);
                assertThat(limits.path("followsConfigurationFile").asBoolean()).as(node.id()).isEqualTo(sameFile);
                if (!sameFile) {
                    assertThat(node.process().log()).contains("but the fleet's limits are " + seededRps)
                            .contains("following the fleet's");
                }
            }

            // The CLI: bad values are usage errors and change nothing; a good change reaches every node within 2 s.
            CliRun bad = CliRun.run(cliEnv, "", "limits", "set", "--rps", "0", "--in-flight", "5");
            assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(bad.err()).contains("requests per second must be between 1 and 1000000, but was 0");
            CliRun set = CliRun.run(cliEnv, "", "limits", "set", "--rps", "80", "--in-flight", "7", "--by", "alice");
            assertThat(set.exitCode()).as(set.toString()).isZero();
            assertThat(set.out()).contains("set by alice (sluice limits set)");
            long changed = System.nanoTime();
            awaitEveryNode(fleet, 80, 7, "alice");
            double tookSecs = (System.nanoTime() - changed) / 1e9;

            // A compare-and-set against an old version is refused, and says what the record is at.
            CliRun stale = CliRun.run(cliEnv, "", "limits", "set", "--rps", "90", "--in-flight", "9",
                    "--expect-version", seeded.path("version").asText());
            assertThat(stale.exitCode()).as(stale.toString()).isEqualTo(ExitCodes.FAILURE);
            assertThat(stale.err()).contains("no longer at version " + seeded.path("version").asText())
                    .contains("set by alice");

            // The node's endpoint: refused without the token or with a wrong one, 400 for a bad body, 409 on a moved
            // record, 200 otherwise.
            URI limits = fleet.node("limits-2").admin().resolve("/api/limits");
            String body = "{\"maxRequestsPerSecond\": 120, \"maxInFlight\": 3, \"by\": \"bob\"}";
            assertThat(post(http, limits, null, body).statusCode()).isEqualTo(401);
            HttpResponse<String> wrong = post(http, limits, "wrong", body);
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(wrong.body()).contains("the bearer token is not the configured one");
            HttpResponse<String> zero = post(http, limits, TOKEN, "{\"maxRequestsPerSecond\": 0, \"maxInFlight\": 3}");
            assertThat(zero.statusCode()).isEqualTo(400);
            assertThat(zero.body()).contains("maxRequestsPerSecond must be a whole number between 1");
            HttpResponse<String> unknown = post(http, limits, TOKEN, "{\"rps\": 10, \"maxInFlight\": 3}");
            assertThat(unknown.statusCode()).isEqualTo(400);
            assertThat(unknown.body()).contains("unknown field 'rps'");
            assertThat(post(http, limits, TOKEN, "not json").statusCode()).isEqualTo(400);
            HttpResponse<String> moved = post(http, limits, TOKEN,
                    "{\"maxRequestsPerSecond\": 120, \"maxInFlight\": 3, \"expectedVersion\": 1}");
            assertThat(moved.statusCode()).as(moved.body()).isEqualTo(409);
            assertThat(JSON.readTree(moved.body()).path("limits").path("maxRequestsPerSecond").asInt()).isEqualTo(80);
            HttpResponse<String> ok = post(http, limits, TOKEN, body);
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            awaitEveryNode(fleet, 120, 3, "bob (admin endpoint of node limits-2)");
            CliRun after = CliRun.run(cliEnv, "", "limits", "show");
            assertThat(after.out()).contains("120").contains("set by bob");
            System.out.printf("LiveLimitsProcessTest: a change by the CLI showed on both nodes' status %.2f s later%n",
                    tookSecs);

            // Every node published every version it took up: the seed, alice's and bob's.
            List<EventPayload.LimitsChanged> events = new ArrayList<>();
            try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "t-" + UUID.randomUUID(),
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                    ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class))) {
                consumer.subscribe(List.of(topic));
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                        if (EventCodec.decode(r.value()) instanceof EventCodec.Decoded.Ok o
                                && o.event().payload() instanceof EventPayload.LimitsChanged c) {
                            events.add(c);
                        }
                    });
                    return events.size() >= 6;
                });
            }
            assertThat(events).extracting(EventPayload.LimitsChanged::maxRequestsPerSecond)
                    .containsOnly(seededRps, 80, 120).hasSize(6);
            assertThat(events).filteredOn(e -> e.maxRequestsPerSecond() == 120)
                    .allSatisfy(e -> assertThat(e.changedBy()).startsWith("bob"));
        }
    }

    private static void awaitEveryNode(FleetNodes fleet, int rps, int inFlight, String by) {
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            for (FleetNodes.Node node : fleet.nodes()) {
                JsonNode limits = node.status().path("cluster").path("fleetLimits");
                assertThat(limits.path("maxRequestsPerSecond").asInt()).as(node.id()).isEqualTo(rps);
                assertThat(limits.path("maxInFlight").asInt()).as(node.id()).isEqualTo(inFlight);
                assertThat(limits.path("changedBy").asText()).as(node.id()).startsWith(by);
                JsonNode limiter = node.status().path("cluster").path("limits");
                assertThat(limiter.path("maxPerSecond").asInt()).as(node.id()).isEqualTo(rps);
                assertThat(limiter.path("maxInFlight").asInt()).as(node.id()).isEqualTo(inFlight);
            }
        });
    }

    private static HttpResponse<String> post(HttpClient http, URI uri, String token, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
