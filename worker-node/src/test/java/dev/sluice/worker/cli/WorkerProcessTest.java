package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code sluice worker} as a real process: configuration errors, a backfill, and a graceful stop on SIGTERM. */
class WorkerProcessTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    /** The JVM's exit status after SIGTERM once its shutdown hooks have finished. */
    private static final int EXIT_AFTER_SIGTERM = 128 + 15;

    @TempDir
    Path dir;

    @Test
    void aBadConfigurationExits78WithTheKeyValueAndRule() {
        Path bad = TestConfig.write(dir, "bad.toml", "[redis]\npool_size = 0\n");

        try (NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker", "--config", bad.toString())
                .maxHeap("128m").start()) {
            int exit = worker.waitFor(Duration.ofSeconds(60));

            assertThat(exit).as(worker.log()).isEqualTo(78);
            assertThat(worker.log()).isEqualTo("sluice: redis.pool_size must be between 1 and 1000, but was 0\n");
        }
    }

    @Test
    void drainsABackfillAndStopsCleanlyOnSigterm() throws Exception {
        try (HubSimulator hub = HubSimulator.builder().port(0).build().start();
             HttpClient http = HttpClient.newHttpClient();
             NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker")
                     .env("SLUICE_REDIS_URL", redis.url())
                     .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                     .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "1000")
                     .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "32")
                     .env("SLUICE_NODE_ID", "process-test-node")
                     .env("SLUICE_NODE_DRAIN_TIMEOUT_SECS", "5")
                     .env("SLUICE_METRICS_PORT", "0")
                     .env("SLUICE_METRICS_BIND", "127.0.0.1")
                     .maxHeap("256m").start()) {
            String line = worker.awaitLog(Pattern.compile("admin endpoint on http://\\S+"), Duration.ofSeconds(60));
            Matcher m = Pattern.compile("admin endpoint on (http://\\S+/)").matcher(line);
            assertThat(m.find()).as(line).isTrue();
            URI admin = URI.create(m.group(1));
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                    assertThat(http.send(HttpRequest.newBuilder(admin.resolve("health/ready")).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200));

            CliRun enqueue = CliRun.run(Map.of("SLUICE_REDIS_URL", redis.url()), "", "enqueue", "--range", "1..200",
                    "--prefix", "user-");
            assertThat(enqueue.exitCode()).as(enqueue.toString()).isZero();

            try (Jedis j = redis.server().newJedis()) {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                        .until(() -> j.keys("sluice:result:*").size(), n -> n == 200);
                assertThat(j.exists("sluice:result:hub-fetch:user-1", "sluice:result:hub-fetch:user-200")).isEqualTo(2);
            }
            assertThat(hub.stats().count(200)).isGreaterThanOrEqualTo(200);

            worker.terminate();
            int exit = worker.waitFor(Duration.ofSeconds(60));

            String log = worker.log();
            assertThat(exit).as(log).isEqualTo(EXIT_AFTER_SIGTERM);
            assertThat(log).contains("shutdown requested: stopping node process-test-node")
                    .contains("node process-test-node draining")
                    .contains("node process-test-node stopped; 0 job(s) handed back to the queue")
                    .doesNotContain("Exception").doesNotContain("ERROR");
        }
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xlen("sluice:jobs")).as("every job acknowledged").isZero();
            assertThat(j.xpending("sluice:jobs", "sluice").getTotal()).isZero();
        }
    }

    @Test
    void aSecondWorkerWithTheIdOfALiveOneExitsOneSayingSo() throws Exception {
        try (HubSimulator hub = HubSimulator.builder().port(0).build().start();
             NodeProcess first = NodeProcess.forMainClass(Main.class).args("worker")
                     .env("SLUICE_REDIS_URL", redis.url()).env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                     .env("SLUICE_NODE_ID", "twin-1").env("SLUICE_NODE_LEASE_MS", "1500")
                     .env("SLUICE_CLUSTER_PORT", Integer.toString(freePort()))
                     .env("SLUICE_KAFKA_ENABLED", "false").env("SLUICE_METRICS_PORT", "0")
                     .env("SLUICE_METRICS_BIND", "127.0.0.1").maxHeap("256m").start()) {
            first.awaitLog(Pattern.compile("node twin-1 started"), Duration.ofSeconds(60));
            try (NodeProcess second = NodeProcess.forMainClass(Main.class).args("worker")
                    .env("SLUICE_REDIS_URL", redis.url()).env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                    .env("SLUICE_NODE_ID", "twin-1").env("SLUICE_NODE_LEASE_MS", "1500")
                    .env("SLUICE_CLUSTER_PORT", Integer.toString(freePort()))
                    .env("SLUICE_KAFKA_ENABLED", "false").env("SLUICE_METRICS_PORT", "0")
                    .env("SLUICE_METRICS_BIND", "127.0.0.1").maxHeap("256m").start()) {
                int exit = second.waitFor(Duration.ofSeconds(60));
                assertThat(exit).as(second.log()).isEqualTo(1);
                assertThat(second.log()).contains("sluice: node id twin-1 is in use by a live process");
            }
            assertThat(first.isAlive()).isTrue();
        }
    }

    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
