package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A worker process is SIGKILLed mid-backfill while it holds pending entries; a second worker process finishes.
 * Every job id reaches the sink and none is dead-lettered; duplicates (jobs run twice) are counted and reported.
 */
class WorkerCrashTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final int JOBS = 1_500;

    private static NodeProcess worker(String nodeId, HubSimulator hub) {
        return NodeProcess.forMainClass(Main.class).args("worker")
                .env("SLUICE_REDIS_URL", redis.url())
                .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                // This test is about recovering the jobs, not about the limiter (FleetProcessesTest is).
                .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "2000")
                .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "20")
                .env("SLUICE_NODE_CONCURRENCY", "200")
                .env("SLUICE_NODE_ID", nodeId)
                .env("SLUICE_QUEUE_VISIBILITY_TIMEOUT_SECS", "2")
                .env("SLUICE_KAFKA_ENABLED", "false")
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", "127.0.0.1")
                .name(nodeId)
                .maxHeap("256m").start();
    }

    @Test
    void killedWorkersJobsAreFinishedByASurvivorAndNoneIsLost() {
        try (HubSimulator hub = HubSimulator.builder().latencyMs(30).jitterMs(20).build().start();
             Jedis j = redis.server().newJedis()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "k" + i));
                ids.add("hub-fetch:k" + i);
            }
            long pendingAtKill;
            try (NodeProcess victim = worker("victim", hub)) {
                victim.awaitLog(Pattern.compile("node victim started"), Duration.ofSeconds(60));
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
                        j.keys("sluice:result:*").size() > 200 && pending(j, "victim") > 50);
                victim.kill();
                pendingAtKill = pending(j, "victim");
                assertThat(victim.isAlive()).isFalse();
            }
            assertThat(pendingAtKill).as("the victim held jobs when it died").isPositive();
            long doneBeforeSurvivor = j.keys("sluice:result:*").size();
            assertThat(doneBeforeSurvivor).isLessThan(JOBS);

            try (NodeProcess survivor = worker("survivor", hub)) {
                await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                        .until(() -> j.keys("sluice:result:*").size() >= JOBS);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                        .until(() -> j.xlen("sluice:jobs") == 0 && j.xpending("sluice:jobs", "sluice").getTotal() == 0);
                assertThat(survivor.log()).contains("took over");
            }
            List<String> missing = ids.stream().filter(id -> !j.exists("sluice:result:" + id)).toList();
            assertThat(missing).as("jobs without a result").isEmpty();
            assertThat(j.exists("sluice:dead")).as("nothing dead-lettered").isFalse();
            HubStats stats = hub.stats();
            long duplicates = stats.count(200) - stats.distinctKeys();
            System.out.printf("WorkerCrashTest: %d jobs, %d pending on the victim at SIGKILL, %d results before the "
                    + "survivor started, %d Hub calls, %d duplicates (jobs run twice)%n", JOBS, pendingAtKill,
                    doneBeforeSurvivor, stats.count(200), duplicates);
            assertThat(stats.distinctKeys()).isEqualTo(JOBS);
            assertThat(duplicates).as("only jobs in flight at the kill can run twice").isBetween(0L, pendingAtKill);
        }
    }

    private static long pending(Jedis j, String consumer) {
        try {
            return j.xpending("sluice:jobs", "sluice").getConsumerMessageCount().getOrDefault(consumer, 0L);
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
