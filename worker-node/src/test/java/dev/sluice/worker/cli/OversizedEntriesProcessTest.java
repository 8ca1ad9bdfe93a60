package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.Slowlog;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Bounded memory whatever producers write: a real worker process at {@code -Xmx256m} goes through 8 MB and 64 MB
 * entries mixed with ordinary jobs, fetched and reclaimed from a dead consumer; each oversized entry is
 * dead-lettered inside Redis with its size, the process stays up, no script runs 50 ms (SLOWLOG), and an idle node
 * still takes a new job within {@code queue.block_timeout_ms}. And jobs just under {@code queue.max_job_bytes}, many
 * in flight at once, all end in the results while the process stays up.
 */
class OversizedEntriesProcessTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final int MB = 1024 * 1024;

    private static Map<String, String> entry(String key, int payloadBytes) {
        char[] filler = new char[payloadBytes];
        Arrays.fill(filler, 'x');
        return Map.of("key", key, "type", "hub-fetch", "blob", new String(filler));
    }

    @Test
    void aNodeAt256MbDeadLettersEntriesOf8And64MbInRedisAndGoesOn() throws Exception {
        try (Jedis j = redis.server().newJedis()) {
            j.configSet("proto-max-bulk-len", Integer.toString(512 * MB));
            j.configSet("client-query-buffer-limit", Integer.toString(512 * MB));
            j.xgroupCreate("sluice:jobs", "sluice", new StreamEntryID(0, 0), true);
            // A consumer that took two giants and died: a survivor must reclaim them without reading them whole.
            j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, entry("giant-dead-1", 64 * MB));
            j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, entry("big-dead-2", 8 * MB));
            List<Map.Entry<String, List<StreamEntry>>> taken = j.xreadGroup("sluice", "dead-node",
                    XReadGroupParams.xReadGroupParams().count(2), Map.of("sluice:jobs", StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY));
            assertThat(taken.getFirst().getValue()).hasSize(2);
            taken = null;
            for (int i = 0; i < 100; i++) {
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "ok-" + i));
                if (i % 20 == 5) {
                    j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, entry("big-" + i, 8 * MB));
                }
            }
            j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, entry("giant-1", 64 * MB));
            for (int i = 100; i < 200; i++) {
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "ok-" + i));
            }
            j.configSet("slowlog-log-slower-than", "50000");
            j.slowlogReset();
        }

        try (HubSimulator hub = HubSimulator.builder().port(0).build().start();
             NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker")
                     .env("SLUICE_REDIS_URL", redis.url())
                     .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                     .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "2000")
                     .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "32")
                     .env("SLUICE_NODE_ID", "survivor")
                     .env("SLUICE_NODE_CONCURRENCY", "500")
                     .env("SLUICE_QUEUE_VISIBILITY_TIMEOUT_SECS", "2")
                     .env("SLUICE_KAFKA_ENABLED", "false")
                     .env("SLUICE_METRICS_PORT", "0")
                     .env("SLUICE_METRICS_BIND", "127.0.0.1")
                     .maxHeap("256m").start();
             Jedis j = redis.server().newJedis()) {
            worker.awaitLog(Pattern.compile("node survivor started"), Duration.ofSeconds(60));
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                    .until(() -> j.keys("sluice:result:*").size() == 200 && j.xlen("sluice:dead") == 8);

            Set<String> deadKeys = new HashSet<>();
            for (StreamEntry e : j.xrange("sluice:dead", "-", "+")) {
                Map<String, String> f = e.getFields();
                assertThat(f).containsEntry("dead.kind", "bad-job").containsEntry("dead.truncated", "1")
                        .containsKey("dead.sha256.blob");
                assertThat(f.get("dead.reason")).contains("more than queue.max_job_bytes");
                assertThat(f.toString().length()).as("a bounded dead letter").isLessThan(32 * 1024);
                deadKeys.add(f.get("key"));
            }
            assertThat(deadKeys).containsExactlyInAnyOrder("giant-dead-1", "big-dead-2", "giant-1", "big-5", "big-25",
                    "big-45", "big-65", "big-85");
            assertThat(j.xlen("sluice:jobs")).as("nothing left in the stream").isZero();
            assertThat(j.xpending("sluice:jobs", "sluice").getTotal()).isZero();

            List<String> slowScripts = new ArrayList<>();
            for (Slowlog s : j.slowlogGet(1024)) {
                String command = s.getArgs().isEmpty() ? "" : s.getArgs().getFirst().toUpperCase(java.util.Locale.ROOT);
                if (command.startsWith("EVAL")) {
                    slowScripts.add(s.getExecutionTime() + " us");
                }
            }
            assertThat(slowScripts).as("scripts slower than 50 ms").isEmpty();

            // Idle again: a new job is taken within block_timeout_ms (500 ms).
            List<Long> latencies = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                String key = "late-" + i;
                long t0 = System.nanoTime();
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", key));
                while (!j.exists("sluice:result:hub-fetch:" + key)) {
                    Thread.sleep(2);
                }
                latencies.add((System.nanoTime() - t0) / 1_000_000);
                Thread.sleep(300);
            }
            latencies.sort(Long::compare);
            assertThat(latencies.get(2)).as("median ms from XADD to result, of " + latencies).isLessThan(500);

            assertThat(worker.isAlive()).as(worker.log()).isTrue();
            assertThat(worker.log()).doesNotContain("OutOfMemoryError");
        }
    }

    /** A stream job of exactly {@code entryBytes} (names and values, as the node measures it), most of it payload. */
    private static Map<String, String> jobOf(String key, int entryBytes) {
        int overhead = "key".length() + key.length() + "type".length() + "hub-fetch".length() + "payload".length() + 2;
        return Map.of("key", key, "type", "hub-fetch", "payload", "\"" + "x".repeat(entryBytes - overhead) + "\"");
    }

    /**
     * In-flight memory: 300 jobs of 1 MiB less 100 bytes each ({@code queue.max_job_bytes} 1 MiB), up to 120 held at
     * once by a node at {@code -Xmx256m} (under half its heap: within the README's rule of sizing the two together)
     * while a slow Hub (1.5 s an answer) keeps them in flight. Every job ends in the results or in a dead letter with
     * its reason, none is missing, and the process never dies. Regression test for two ways the heap held every such
     * job twice: a fetched batch kept whole as raw bytes while it was turned into deliveries, and each pooled Hub
     * connection keeping the first job that used it (the JDK client keeps the connection's first exchange, whose
     * answer handler's budget reservation kept its thread, and so the ended job).
     *
     * <p>Stream mode: list mode holds each job in flight twice by design (the element, to remove it by value on
     * acknowledgement, and the job parsed from it), so at this concurrency it needs more than this heap.
     */
    @Test
    void aNodeAt256MbHoldsManyJobsJustUnderTheLimitInFlightAndLosesNone() {
        int jobs = 300;
        int concurrency = 120;
        int entryBytes = MB - 100;
        List<String> ids = new ArrayList<>();
        try (Jedis j = redis.server().newJedis()) {
            for (int i = 0; i < jobs; i++) {
                String key = "near-" + i;
                ids.add("hub-fetch:" + key);
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, jobOf(key, entryBytes));
            }
            assertThat(j.memoryUsage("sluice:jobs")).as("Redis holds them all").isGreaterThan((long) jobs * entryBytes);
        }

        try (HubSimulator hub = HubSimulator.builder().port(0).latencyMs(1_500).build().start();
             NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker")
                     .env("SLUICE_REDIS_URL", redis.url())
                     .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                     .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "2000")
                     .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", Integer.toString(concurrency))
                     .env("SLUICE_HUB_MAX_RESPONSE_BYTES", "65536")
                     .env("SLUICE_NODE_ID", "near-limit")
                     .env("SLUICE_NODE_CONCURRENCY", Integer.toString(concurrency))
                     .env("SLUICE_QUEUE_MAX_JOB_BYTES", Integer.toString(MB))
                     .env("SLUICE_KAFKA_ENABLED", "false")
                     .env("SLUICE_METRICS_PORT", "0")
                     .env("SLUICE_METRICS_BIND", "127.0.0.1")
                     .maxHeap("256m").start();
             Jedis j = redis.server().newJedis()) {
            worker.awaitLog(Pattern.compile("node near-limit started"), Duration.ofSeconds(60));
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> {
                assertThat(worker.isAlive()).as("the node process, alive throughout: " + worker.log()).isTrue();
                return j.keys("sluice:result:*").size() + j.xlen("sluice:dead") >= jobs;
            });

            Map<String, String> deadReasons = new HashMap<>();
            for (StreamEntry e : j.xrange("sluice:dead", "-", "+")) {
                deadReasons.put(e.getFields().get("dead.job_id"), e.getFields().get("dead.reason"));
            }
            List<String> missing = ids.stream().filter(id -> !j.exists("sluice:result:" + id))
                    .filter(id -> deadReasons.get(id) == null || deadReasons.get(id).isBlank()).toList();
            assertThat(missing).as("jobs neither in the results nor dead-lettered with a reason").isEmpty();
            assertThat(deadReasons).as("dead letters (none expected: every job is within the limit)").isEmpty();
            System.out.printf("OversizedEntriesProcessTest: %d jobs of %d bytes, at most %d in flight at the Hub at once%n",
                    jobs, entryBytes, hub.stats().maxInFlight());
            assertThat(hub.stats().maxInFlight()).as("jobs in flight at the Hub at once").isGreaterThanOrEqualTo(100);
            assertThat(j.xlen("sluice:jobs")).as("nothing left in the stream").isZero();
            assertThat(j.xpending("sluice:jobs", "sluice").getTotal()).isZero();
            assertThat(worker.isAlive()).as(worker.log()).isTrue();
            assertThat(worker.log()).doesNotContain("OutOfMemoryError");
        }
    }
}
