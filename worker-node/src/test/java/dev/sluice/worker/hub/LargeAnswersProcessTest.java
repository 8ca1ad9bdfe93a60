package dev.sluice.worker.hub;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real worker process at {@code -Xmx256m} and concurrency 500 against a Hub that answers every key with 1 MiB,
 * with no Hub limit to slow it down, and Redis refusing writes for 20 s mid-backfill: without the body budget 500
 * bodies (500 MiB) would be in its heap at once. Every job ends done, the process stays up, and its log shows no
 * {@code OutOfMemoryError}. Results are counted and removed as they land, so Redis holds little of them.
 */
class LargeAnswersProcessTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final int MIB = 1024 * 1024;
    private static final int JOBS = 1_000;
    private static final String RESULTS = "sluice:result:hub-fetch:";

    /** Moves the results that landed from Redis into {@code done}. */
    private static void collect(Jedis j, Set<String> done) {
        String cursor = ScanParams.SCAN_POINTER_START;
        do {
            ScanResult<String> page = j.scan(cursor, new ScanParams().match(RESULTS + "*").count(1_000));
            for (String key : page.getResult()) {
                done.add(key.substring(RESULTS.length()));
                j.unlink(key);
            }
            cursor = page.getCursor();
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
    }

    @Test
    void concurrency500With1MibAnswersAt256MbFinishesEveryJobWhileRedisRefusesWritesFor20s() throws Exception {
        Set<String> done = ConcurrentHashMap.newKeySet();
        try (HubSimulator hub = HubSimulator.builder().port(0).bodyBytes(MIB).latencyMs(20).build().start();
             NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker")
                     .env("SLUICE_REDIS_URL", redis.url())
                     .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                     .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "5000")
                     .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "500")
                     .env("SLUICE_NODE_ID", "large-answers")
                     .env("SLUICE_NODE_CONCURRENCY", "500")
                     .env("SLUICE_RETRY_BASE_DELAY_MS", "100")
                     .env("SLUICE_RETRY_MAX_DELAY_MS", "1000")
                     .env("SLUICE_BREAKER_FAILURE_THRESHOLD", "1000")
                     .env("SLUICE_KAFKA_ENABLED", "false")
                     .env("SLUICE_METRICS_PORT", "0")
                     .env("SLUICE_METRICS_BIND", "127.0.0.1")
                     .maxHeap("256m").start();
             Jedis j = redis.server().newJedis()) {
            worker.awaitLog(Pattern.compile("node large-answers started"), Duration.ofSeconds(60));
            assertThat(worker.log()).contains("Hub answers: at most 1048576 bytes each (hub.max_response_bytes), "
                    + "67108864 bytes of heap for all being read or held at once on this node, each charged twice its "
                    + "size (32 answers of the largest size)");
            Pipeline p = j.pipelined();
            for (int i = 0; i < JOBS; i++) {
                p.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "user-" + i));
            }
            p.sync();

            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                collect(j, done);
                return done.size() >= 150;
            });
            j.configSet("maxmemory-policy", "noeviction");
            j.configSet("maxmemory", "1");
            try {
                await().pollDelay(Duration.ofSeconds(20)).atMost(Duration.ofSeconds(21)).until(() -> true);
                assertThat(worker.isAlive()).as("alive while Redis refused writes: " + worker.log()).isTrue();
            } finally {
                j.configSet("maxmemory", "0");
            }

            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                collect(j, done);
                assertThat(done).as("jobs done; stream " + j.xlen("sluice:jobs") + ", pending "
                        + j.xpending("sluice:jobs", "sluice").getTotal() + ", delayed " + j.zcard("sluice:delayed")
                        + ", dead " + j.xlen("sluice:dead")).hasSize(JOBS);
            });
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .until(() -> j.xlen("sluice:jobs") == 0 && j.xpending("sluice:jobs", "sluice").getTotal() == 0);
            assertThat(j.xlen("sluice:dead")).as("nothing dead-lettered").isZero();
            assertThat(j.zcard("sluice:delayed")).isZero();
            assertThat(hub.stats().count(200)).isGreaterThanOrEqualTo(JOBS);

            String log = worker.log();
            assertThat(worker.isAlive()).as(log).isTrue();
            assertThat(log).doesNotContain("OutOfMemoryError");
            assertThat(List.of(log.split("\n")).stream().filter(l -> l.contains(" ERROR ")).toList())
                    .as("errors in the worker's log").isEmpty();
        }
    }
}
