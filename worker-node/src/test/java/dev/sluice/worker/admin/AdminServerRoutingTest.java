package dev.sluice.worker.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.adminhttp.Operation;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.MetricsConfig;
import dev.sluice.common.config.SluiceConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The admin server's HTTP behaviour with a stand-in node: routing, methods, readiness answers, write access. */
class AdminServerRoutingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private final AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.readyNow());
    private final AtomicReference<List<String>> notLive = new AtomicReference<>(List.of());
    private final NodeStatusSource source = new NodeStatusSource() {
        @Override
        public Readiness readiness() {
            return readiness.get();
        }

        @Override
        public List<String> livenessProblems() {
            return notLive.get();
        }

        @Override
        public NodeStatus status() {
            return new NodeStatus("n1", true, new NodeStatus.Queue("stream", "sluice:jobs", "sluice"),
                    new NodeStatus.Pool(20, 1, 2, 0, 0.5, 0.95, 0, null), false, 0.2, 0, List.of(), null, null, null, Map.of());
        }
    };
    private AdminServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
        http.close();
    }

    private AdminServer start(String token) {
        SluiceConfig config = ConfigLoader.parse("[metrics]\nport = 0\nbind = \"127.0.0.1\"\ntoken = \"" + token + "\"\n", Map.of());
        MetricsConfig metrics = config.metrics();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Counter.builder("sluice.test.things").register(registry).increment(3);
        server = new AdminServer(metrics, registry, source);
        server.operation("/api/test-change", (who, body) -> new Operation.Result(200, Map.of("changed", true)));
        return server.start();
    }

    private HttpResponse<String> send(String method, String path, String authorization) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .method(method, method.equals("POST") || method.equals("PUT")
                        ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send("GET", path, null);
    }

    @Test
    void servesLivenessMetricsAndStatus() throws Exception {
        start("");

        assertThat(get("/health/live")).satisfies(r -> {
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("{\"status\":\"UP\"}");
            assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
        });
        assertThat(get("/metrics")).satisfies(r -> {
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
            assertThat(r.body()).contains("sluice_test_things_total 3.0");
        });
        JsonNode status = JSON.readTree(get("/api/status").body());
        assertThat(status.get("nodeId").asText()).isEqualTo("n1");
        assertThat(status.get("pool").get("availability").asDouble()).isEqualTo(0.95);
    }

    @Test
    void readinessAnswers503WithTheReason() throws Exception {
        start("");
        assertThat(get("/health/ready").statusCode()).isEqualTo(200);

        readiness.set(Readiness.notReady("queue statistics are 12000 ms old"));
        HttpResponse<String> r = get("/health/ready");

        assertThat(r.statusCode()).isEqualTo(503);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("status").asText()).isEqualTo("NOT_READY");
        assertThat(body.get("reason").asText()).isEqualTo("queue statistics are 12000 ms old");
    }

    @Test
    void everyReadOnlyEndpointRefusesOtherMethodsWith405() throws Exception {
        start("s3cr3t");

        for (String path : List.of("/health/live", "/health/ready", "/metrics", "/api/status")) {
            for (String method : List.of("POST", "PUT", "DELETE", "PATCH")) {
                HttpResponse<String> r = send(method, path, "Bearer s3cr3t");
                assertThat(r.statusCode()).as(method + " " + path).isEqualTo(405);
                assertThat(r.headers().firstValue("Allow")).hasValue("GET, HEAD");
                assertThat(r.body()).contains("read-only");
            }
            HttpResponse<String> head = send("HEAD", path, null);
            assertThat(head.statusCode()).as("HEAD " + path).isEqualTo(200);
            assertThat(head.body()).isEmpty();
        }
    }

    @Test
    void unknownPathsAre404() throws Exception {
        start("");

        HttpResponse<String> r = get("/admin");

        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).contains("/health/live");
    }

    @Test
    void aMutatingEndpointNeedsTheConfiguredToken() throws Exception {
        start("s3cr3t");

        assertThat(send("POST", "/api/test-change", null)).satisfies(r -> {
            assertThat(r.statusCode()).isEqualTo(401);
            assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"sluice\"");
        });
        assertThat(send("POST", "/api/test-change", "Bearer wrong").statusCode()).isEqualTo(401);
        assertThat(send("POST", "/api/test-change", "Bearer s3cr3t")).satisfies(r -> {
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("{\"changed\":true}");
        });
        assertThat(send("GET", "/api/test-change", "Bearer s3cr3t").statusCode()).isEqualTo(405);
    }

    @Test
    void withoutATokenAMutatingEndpointIsRefused() throws Exception {
        start("");

        HttpResponse<String> r = send("POST", "/api/test-change", "Bearer anything");

        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.body()).contains("read-only: set [metrics] token");
    }

    @Test
    void aPortInUseIsReportedWithTheAddress() throws Exception {
        start("");
        SluiceConfig clash = ConfigLoader.parse("[metrics]\nport = " + server.port() + "\nbind = \"127.0.0.1\"\n", Map.of());
        AdminServer second = new AdminServer(clash.metrics(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), source);

        org.assertj.core.api.Assertions.assertThatThrownBy(second::start)
                .isInstanceOf(java.io.UncheckedIOException.class)
                .hasMessageStartingWith("cannot listen on 127.0.0.1:" + server.port() + " for the admin endpoint");
    }

    @Test
    void livenessFailsWithTheProblemsWhenALoopIsStuck() throws Exception {
        start("");
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
        notLive.set(List.of("fetcher has work and has not come round for 61 s (limit 30 s)"));
        HttpResponse<String> down = get("/health/live");
        assertThat(down.statusCode()).isEqualTo(503);
        JsonNode body = JSON.readTree(down.body());
        assertThat(body.get("status").asText()).isEqualTo("DOWN");
        assertThat(body.get("problems").get(0).asText()).startsWith("fetcher has work");
    }
}
