package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HubSimulatorTest {
    private final HubClient client = new HubClient();
    private HubSimulator hub;

    @AfterEach
    void tearDown() {
        if (hub != null) {
            hub.close();
        }
        client.close();
    }

    private HubSimulator start(HubSimulator.Builder builder) {
        hub = builder.build().start();
        return hub;
    }

    private List<Integer> statusesOf(String key, int requests) throws Exception {
        var statuses = new ArrayList<Integer>();
        for (var i = 0; i < requests; i++) {
            statuses.add(client.get(hub.uriFor(key)).statusCode());
        }
        return statuses;
    }

    private static String sha256Hex(String text) throws Exception {
        return HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void servesTheSameDocumentForTheSameKey() throws Exception {
        start(HubSimulator.builder());

        var first = client.get(hub.uriFor("user:42"));
        var second = client.get(hub.uriFor("user:42"));
        var other = client.get(hub.uriFor("user:43"));

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(second.body()).isEqualTo(first.body());
        var document = client.json(first);
        assertThat(document.get("key").asText()).isEqualTo("user:42");
        assertThat(document.get("value").asText()).isEqualTo(sha256Hex("user:42"));
        assertThat(document.get("version").asInt()).isEqualTo(1);
        assertThat(client.json(other).get("value").asText()).isNotEqualTo(document.get("value").asText());
    }

    @Test
    void keysThatNeedEscapingInAPathAreServedAsTheyAre() throws Exception {
        start(HubSimulator.builder());
        var key = "a b/ü?\"x\"";

        var response = client.get(hub.uriFor(key));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(client.json(response).get("key").asText()).isEqualTo(key);
        assertThat(client.json(response).get("value").asText()).isEqualTo(sha256Hex(key));
    }

    @Test
    void servesUnderTheDefaultPathPrefix() throws Exception {
        start(HubSimulator.builder());

        assertThat(client.get(hub.baseUrl() + "/v1/backfill/abc").statusCode()).isEqualTo(200);
        assertThat(hub.uriFor("abc").toString()).isEqualTo(hub.baseUrl() + "/v1/backfill/abc");
    }

    @Test
    void itsOwnWarmUpAtStartLeavesNoTraceInTheStatsTheLimitsOrThePaths() throws Exception {
        start(HubSimulator.builder().maxRequestsPerSecond(5).maxInFlight(2).failFirst(1));

        assertThat(hub.stats().totalRequests()).isZero();
        assertThat(statusesOf("k0", 2)).as("fail-first still applies to the first real attempt").containsExactly(500, 200);
        assertThat(statusesOf("k1", 3)).containsExactly(500, 200, 200);
        assertThat(statusesOf("k2", 1)).as("over the window of 5").containsExactly(429);
        assertThat(hub.stats().totalRequests()).isEqualTo(6);
        assertThat(hub.stats().violations().total()).isEqualTo(1);
        assertThat(client.get(hub.baseUrl() + SelfWarmUp.WARM_UP_PREFIX + "k0").statusCode())
                .as("the warm-up path is gone").isEqualTo(404);
    }

    @Test
    void servesUnderAConfiguredPathPrefixWithATrailingSlashAdded() throws Exception {
        start(HubSimulator.builder().pathPrefix("/api/items"));

        assertThat(hub.pathPrefix()).isEqualTo("/api/items/");
        assertThat(client.get(hub.baseUrl() + "/api/items/abc").statusCode()).isEqualTo(200);
        assertThat(client.get(hub.baseUrl() + "/v1/backfill/abc").statusCode()).isEqualTo(404);
    }

    @Test
    void answersAnEmptyKey404AndAMethodOtherThanGet405() throws Exception {
        start(HubSimulator.builder());

        assertThat(client.get(hub.baseUrl() + "/v1/backfill/").statusCode()).isEqualTo(404);
        var post = client.post(hub.uriFor("abc").toString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET");
    }

    @Test
    void waitsForTheConfiguredLatencyBeforeAnswering() throws Exception {
        start(HubSimulator.builder().latencyMs(200).jitterMs(50));

        var started = System.nanoTime();
        var response = client.get(hub.uriFor("slow"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(200_000_000L);
    }

    @Test
    void failFirstAnswers500ToTheFirstRequestsOfEachKeyThenSucceeds() throws Exception {
        start(HubSimulator.builder().failFirst(3));

        assertThat(statusesOf("a", 5)).containsExactly(500, 500, 500, 200, 200);
        assertThat(statusesOf("b", 4)).containsExactly(500, 500, 500, 200);
        assertThat(hub.stats().count(500)).isEqualTo(6);
        assertThat(hub.stats().distinctKeys()).isEqualTo(2);
    }

    @Test
    void changingFailFirstRestartsTheCountForEveryKey() throws Exception {
        start(HubSimulator.builder().failFirst(1));
        assertThat(statusesOf("a", 2)).containsExactly(500, 200);

        hub.setFailFirst(2);

        assertThat(statusesOf("a", 3)).containsExactly(500, 500, 200);
    }

    @Test
    void errorRateOneAnswersEveryRequest500AndZeroNone() throws Exception {
        start(HubSimulator.builder().errorRate(1.0));
        assertThat(statusesOf("k", 20)).containsOnly(500);

        hub.setErrorRate(0.0);

        assertThat(statusesOf("k", 20)).containsOnly(200);
        assertThat(hub.stats().byStatus()).containsEntry(500, 20L).containsEntry(200, 20L);
    }

    @Test
    void outageSwitchedOnAndOffThroughTheAdminEndpoint() throws Exception {
        start(HubSimulator.builder());

        var on = client.post(hub.baseUrl() + "/admin/outage?on=true&status=503");
        assertThat(on.statusCode()).isEqualTo(200);
        assertThat(client.json(on).at("/outage/on").asBoolean()).isTrue();
        assertThat(hub.inOutage()).isTrue();
        assertThat(statusesOf("k", 3)).containsOnly(503);

        client.post(hub.baseUrl() + "/admin/outage?on=true&status=502");
        assertThat(statusesOf("k", 2)).containsOnly(502);

        var off = client.post(hub.baseUrl() + "/admin/outage?on=false");
        assertThat(client.json(off).at("/outage/on").asBoolean()).isFalse();
        assertThat(statusesOf("k", 2)).containsOnly(200);
        assertThat(hub.stats().byStatus()).containsExactly(Map.entry(200, 2L), Map.entry(502, 2L), Map.entry(503, 3L));
    }

    @Test
    void outageSwitchedOnAndOffInProcess() throws Exception {
        start(HubSimulator.builder());

        hub.startOutage(500);
        assertThat(statusesOf("k", 2)).containsOnly(500);
        hub.endOutage();
        assertThat(statusesOf("k", 2)).containsOnly(200);
    }

    @Test
    void settingsEndpointChangesBehaviourAndRejectsBadValuesNamingThem() throws Exception {
        start(HubSimulator.builder());

        var changed = client.post(hub.baseUrl() + "/admin/settings?errorRate=1&latencyMs=5&jitterMs=1");
        assertThat(changed.statusCode()).isEqualTo(200);
        var settings = client.json(client.get(hub.baseUrl() + "/admin/settings"));
        assertThat(settings.get("errorRate").asDouble()).isEqualTo(1.0);
        assertThat(settings.get("latencyMs").asLong()).isEqualTo(5);
        assertThat(settings.get("jitterMs").asLong()).isEqualTo(1);
        assertThat(settings.get("pathPrefix").asText()).isEqualTo("/v1/backfill/");
        assertThat(statusesOf("k", 3)).containsOnly(500);

        var rejected = client.post(hub.baseUrl() + "/admin/settings?errorRate=0&failFirst=-1");
        assertThat(rejected.statusCode()).isEqualTo(400);
        assertThat(client.json(rejected).get("error").asText())
                .isEqualTo("failFirst must be between 0 and 1000000, but was -1");
        assertThat(statusesOf("k", 1)).as("a rejected change changes nothing").containsOnly(500);

        var notANumber = client.post(hub.baseUrl() + "/admin/settings?latencyMs=soon");
        assertThat(client.json(notANumber).get("error").asText())
                .isEqualTo("latencyMs must be a whole number, but was 'soon'");
        var unknown = client.post(hub.baseUrl() + "/admin/settings?latency=5");
        assertThat(unknown.statusCode()).isEqualTo(400);
        assertThat(client.json(unknown).get("error").asText()).contains("unknown parameter 'latency'");

        client.post(hub.baseUrl() + "/admin/settings?errorRate=0&failFirst=2");
        assertThat(statusesOf("fresh", 3)).containsExactly(500, 500, 200);
    }

    @Test
    void outageEndpointRejectsAStatusOutsideFourAndFiveHundreds() throws Exception {
        start(HubSimulator.builder());

        var rejected = client.post(hub.baseUrl() + "/admin/outage?on=true&status=200");

        assertThat(rejected.statusCode()).isEqualTo(400);
        assertThat(client.json(rejected).get("error").asText())
                .isEqualTo("status must be between 400 and 599, but was 200");
        assertThat(hub.inOutage()).isFalse();
    }

    @Test
    void resetThroughTheAdminEndpointClearsTheStats() throws Exception {
        start(HubSimulator.builder().maxRequestsPerSecond(2));
        statusesOf("k", 3);
        assertThat(hub.stats().totalRequests()).isEqualTo(3);

        var reset = client.post(hub.baseUrl() + "/admin/reset");

        assertThat(reset.statusCode()).isEqualTo(204);
        var stats = hub.stats();
        assertThat(stats.totalRequests()).isZero();
        assertThat(stats.byStatus()).isEmpty();
        assertThat(stats.maxInFlight()).isZero();
        assertThat(stats.maxWindowRequests()).isZero();
        assertThat(stats.violations()).isEqualTo(HubStats.Violations.NONE);
        assertThat(stats.distinctKeys()).isZero();
        assertThat(stats.limits()).isEqualTo(new HubStats.Limits(2, 0, true, 1));
    }

    @Test
    void resetStatsInProcessClearsTheStats() throws Exception {
        start(HubSimulator.builder());
        statusesOf("k", 2);

        hub.resetStats();

        assertThat(hub.stats().totalRequests()).isZero();
        statusesOf("k", 1);
        assertThat(hub.stats().totalRequests()).isEqualTo(1);
    }

    @Test
    void adminRequestsAreNotCounted() throws Exception {
        start(HubSimulator.builder());

        client.stats(hub);
        client.get(hub.baseUrl() + "/admin/settings");
        client.post(hub.baseUrl() + "/admin/outage?on=false");
        client.post(hub.baseUrl() + "/admin/settings?latencyMs=0");
        client.get(hub.baseUrl() + "/admin/nothing-here");

        assertThat(hub.stats().totalRequests()).isZero();
        assertThat(hub.stats().maxWindowRequests()).isZero();
    }

    @Test
    void statsEndpointReportsWhatStatsReturns() throws Exception {
        start(HubSimulator.builder().maxInFlight(10).maxRequestsPerSecond(2).retryAfterSecs(3)
                .nanoTime(new FakeNanoTime()));
        statusesOf("k", 3);
        client.get(hub.baseUrl() + "/v1/backfill/");

        var json = client.stats(hub);
        var stats = hub.stats();

        assertThat(json.get("totalRequests").asLong()).isEqualTo(stats.totalRequests()).isEqualTo(4);
        assertThat(json.at("/byStatus/200").asLong()).isEqualTo(stats.count(200)).isEqualTo(2);
        assertThat(json.at("/byStatus/429").asLong()).isEqualTo(stats.count(429)).isEqualTo(2);
        assertThat(json.get("inFlight").asInt()).isZero();
        assertThat(json.get("maxInFlight").asInt()).isEqualTo(stats.maxInFlight()).isEqualTo(1);
        assertThat(json.get("maxWindowRequests").asInt()).isEqualTo(stats.maxWindowRequests()).isEqualTo(4);
        assertThat(json.at("/violations/total").asLong()).isEqualTo(2);
        assertThat(json.at("/violations/window").asLong()).isEqualTo(2);
        assertThat(json.at("/violations/inFlight").asLong()).isZero();
        assertThat(json.at("/limits/maxRequestsPerSecond").asInt()).isEqualTo(2);
        assertThat(json.at("/limits/maxInFlight").asInt()).isEqualTo(10);
        assertThat(json.at("/limits/enforced").asBoolean()).isTrue();
        assertThat(json.at("/limits/retryAfterSecs").asInt()).isEqualTo(3);
        assertThat(json.get("distinctKeys").asLong()).isEqualTo(1);
        assertThat(json.get("periodSeconds").asDouble()).as("by the simulator's (fake, still) clock")
                .isEqualTo(stats.periodSeconds()).isZero();
    }

    @Test
    void adminEndpointsAnswerAWrongMethod405() throws Exception {
        start(HubSimulator.builder());

        HttpResponse<String> response = client.post(hub.baseUrl() + "/admin/stats");

        assertThat(response.statusCode()).isEqualTo(405);
        assertThat(client.get(hub.baseUrl() + "/admin/reset").statusCode()).isEqualTo(405);
    }

    @Test
    void builderRejectsBadValuesNamingTheSettingTheRuleAndTheValue() {
        var builder = HubSimulator.builder();

        assertThatThrownBy(() -> builder.errorRate(2.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("errorRate must be between 0.0 and 1.0, but was 2.0");
        assertThatThrownBy(() -> builder.errorRate(Double.NaN))
                .hasMessage("errorRate must be between 0.0 and 1.0, but was NaN");
        assertThatThrownBy(() -> builder.port(70_000)).hasMessage("port must be between 0 and 65535, but was 70000");
        assertThatThrownBy(() -> builder.maxInFlight(-1)).hasMessage("maxInFlight must be at least 0, but was -1");
        assertThatThrownBy(() -> builder.latencyMs(-5))
                .hasMessage("latencyMs must be between 0 and 600000, but was -5");
        assertThatThrownBy(() -> builder.pathPrefix("/admin/x"))
                .hasMessage("pathPrefix must not lie under /admin/, but was '/admin/x'");
        assertThatThrownBy(() -> builder.pathPrefix("v1"))
                .hasMessageStartingWith("pathPrefix must start with '/'");
        assertThatThrownBy(() -> builder.host(" ")).hasMessage("host must not be blank, but was ' '");
    }

    @Test
    void startsOnceAndStopsIdempotently() {
        start(HubSimulator.builder());
        var port = hub.port();
        assertThat(port).isPositive();
        assertThat(hub.baseUrl()).isEqualTo("http://127.0.0.1:" + port);

        assertThatThrownBy(hub::start).isInstanceOf(IllegalStateException.class);
        hub.close();
        hub.close();
        assertThatThrownBy(hub::start).isInstanceOf(IllegalStateException.class);
        assertThat(hub.port()).isEqualTo(port);
    }

    @Test
    void portIsUnknownBeforeStart() {
        var unstarted = HubSimulator.builder().build();

        assertThatThrownBy(unstarted::port).isInstanceOf(IllegalStateException.class);
        unstarted.close();
    }
}
