package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.queue.Enqueued;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Redis refuses writes (full under {@code noeviction}, a read-only replica): no job is acknowledged before its
 * result, retry or dead letter is confirmed, the node stops taking work and says why, and every job ends done or
 * dead-lettered once Redis takes writes again. Real redis-server, real Hub simulator over HTTP.
 */
class RedisRefusesWritesTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        try (Jedis j = redis.server().newJedis()) {
            j.configSet("maxmemory", "0");
            j.replicaofNoOne();
        }
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private HubSimulator hub(int latencyMs) {
        HubSimulator hub = HubSimulator.builder().latencyMs(latencyMs).build().start();
        closing.add(hub);
        return hub;
    }

    private SluiceConfig config(HubSimulator hub, String... more) {
        List<String> all = new ArrayList<>(List.of("hub.base_url", hub.baseUrl(), "redis.pool_size", "5",
                "hub.max_requests_per_second", "2000", "hub.max_concurrent_connections", "20", "node.concurrency", "20",
                "retry.base_delay_ms", "20", "retry.max_delay_ms", "200", "node.drain_timeout_secs", "5",
                "breaker.failure_threshold", "1000"));
        all.addAll(List.of(more));
        return TestConfigs.config(redis.url(), all.toArray(String[]::new));
    }

    private WorkerNode started(SluiceConfig config, SimpleMeterRegistry meters) {
        WorkerNode node = TestConfigs.standaloneNode(config, meters);
        closing.add(node);
        node.start();
        return node;
    }

    /** Full: every write that needs memory is refused with OOM, as under maxmemory with noeviction. */
    private static void fill() {
        try (Jedis j = redis.server().newJedis()) {
            j.configSet("maxmemory-policy", "noeviction");
            j.configSet("maxmemory", "1");
        }
    }

    private static void free() {
        try (Jedis j = redis.server().newJedis()) {
            j.configSet("maxmemory", "0");
        }
    }

    private static Set<String> resultIds() {
        try (Jedis j = redis.server().newJedis()) {
            Set<String> ids = new HashSet<>();
            for (String k : j.keys("sluice:result:*")) {
                ids.add(k.substring("sluice:result:".length()));
            }
            return ids;
        }
    }

    private static double refusals(SimpleMeterRegistry meters, String reason) {
        return meters.find("sluice.redis.errors").tag("reason", reason).counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    /** Every enqueued job is in the results or in the dead-letter stream, and nothing is left anywhere else. */
    private static void assertNoneMissing(WorkerNode node, List<Job> jobs) {
        Set<String> done = resultIds();
        Set<String> dead = new HashSet<>();
        for (DeadLetterEntry e : node.queue().deadLetters(10_000)) {
            dead.add(e.jobId());
        }
        List<String> missing = jobs.stream().map(Job::id).filter(id -> !done.contains(id) && !dead.contains(id)).toList();
        assertThat(missing).as("jobs neither done nor dead-lettered").isEmpty();
        var stats = node.queue().stats();
        assertThat(stats.backlog()).as("backlog " + stats).isZero();
        assertThat(stats.delayed()).isZero();
    }

    @Test
    void redisFullMidBackfillLosesNoJobAndTheNodeWaitsUntilMemoryIsFreed() {
        HubSimulator hub = hub(40);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        WorkerNode node = started(config(hub), meters);
        List<Job> jobs = WorkerNodeTest.jobs("hub-fetch", 300);
        node.queue().enqueue(jobs);
        await().atMost(Duration.ofSeconds(20)).until(() -> resultIds().size() >= 40);

        fill();
        WorkerNodeStatus status = new WorkerNodeStatus(node);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> node.worker().pausedBy().contains(WorkerNode.REDIS_REFUSING));
        assertThat(status.readiness().ready()).isFalse();
        assertThat(status.readiness().reason()).contains("Redis refuses writes").contains("OOM");
        long doneWhileFull = resultIds().size();
        // Held full long enough for retries and their reschedules to be refused over and over.
        await().pollDelay(Duration.ofSeconds(8)).atMost(Duration.ofSeconds(9)).until(() -> true);
        assertThat(resultIds()).hasSize((int) doneWhileFull);
        assertThat(refusals(meters, "OOM")).isPositive();
        try (Jedis j = redis.server().newJedis()) {
            // Nothing acknowledged without its result: what is not done is still in the stream.
            assertThat(j.xlen("sluice:jobs") + j.zcard("sluice:delayed")).isEqualTo(300 - doneWhileFull);
        }

        free();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> resultIds().size() == 300);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().backlog() == 0);
        assertNoneMissing(node, jobs);
        assertThat(node.worker().pausedBy()).doesNotContain(WorkerNode.REDIS_REFUSING);
        assertThat(status.readiness().ready()).isTrue();
        assertThat(node.queue().stats().dead()).isZero();
    }

    @Test
    void listModeLosesNothingWhileRedisIsFull() {
        HubSimulator hub = hub(40);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        WorkerNode node = started(config(hub, "queue.mode", "list"), meters);
        List<Job> jobs = WorkerNodeTest.jobs("hub-fetch", 200);
        node.queue().enqueue(jobs);
        await().atMost(Duration.ofSeconds(20)).until(() -> resultIds().size() >= 30);
        fill();
        await().atMost(Duration.ofSeconds(10)).until(() -> refusals(meters, "OOM") > 0);
        await().pollDelay(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(6)).until(() -> true);
        free();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> resultIds().size() == 200);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().backlog() == 0);
        assertNoneMissing(node, jobs);
    }

    @Test
    void aReadOnlyReplicaIsRidenOutWithoutLosingAJob() throws Exception {
        HubSimulator hub = hub(40);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        WorkerNode node = started(config(hub), meters);
        List<Job> jobs = WorkerNodeTest.jobs("hub-fetch", 200);
        node.queue().enqueue(jobs);
        await().atMost(Duration.ofSeconds(20)).until(() -> resultIds().size() >= 30);
        int nobody;
        try (ServerSocket s = new ServerSocket(0)) {
            nobody = s.getLocalPort();
        }
        try (Jedis j = redis.server().newJedis()) {
            // A replica of a master that never answers keeps its data and answers READONLY to every write.
            j.replicaof("127.0.0.1", nobody);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> refusals(meters, "READONLY") > 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.worker().pausedBy().contains(WorkerNode.REDIS_REFUSING));
        await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
        try (Jedis j = redis.server().newJedis()) {
            j.replicaofNoOne();
        }
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> resultIds().size() == 200);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().backlog() == 0);
        assertNoneMissing(node, jobs);
    }

    @Test
    void aNodeStartedWhileRedisIsFullWaitsAndThenWorks() throws Exception {
        HubSimulator hub = hub(1);
        try (Jedis j = redis.server().newJedis()) {
            j.del("sluice:jobs");
        }
        fill();
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        WorkerNode node = TestConfigs.standaloneNode(config(hub), meters);
        closing.add(node);
        CompletableFuture<Void> starting = CompletableFuture.runAsync(node::start);
        await().atMost(Duration.ofSeconds(10)).until(() -> refusals(meters, "OOM") > 0);
        assertThat(starting).isNotDone();
        assertThat(new WorkerNodeStatus(node).readiness().reason()).contains("Redis refuses writes");

        free();
        starting.get(20, TimeUnit.SECONDS);
        List<Job> jobs = WorkerNodeTest.jobs("hub-fetch", 20);
        assertThat(node.queue().enqueue(jobs).all()).isTrue();
        await().atMost(Duration.ofSeconds(20)).until(() -> resultIds().size() == 20);
    }

    @Test
    void enqueueSaysHowManyJobsRedisAccepted() {
        HubSimulator hub = hub(1);
        WorkerNode node = TestConfigs.standaloneNode(config(hub), new SimpleMeterRegistry());
        closing.add(node);
        fill();
        Enqueued refused = node.queue().enqueue(WorkerNodeTest.jobs("hub-fetch", 10));
        assertThat(refused.accepted()).isZero();
        assertThat(refused.refused()).isEqualTo(10);
        assertThat(refused.firstRefusal().reason()).isEqualTo("OOM");
        free();
        assertThat(node.queue().enqueue(WorkerNodeTest.jobs("hub-fetch", 10)).accepted()).isEqualTo(10);
    }

    @Test
    void anEntryOfFourThousandFieldsIsDeadLetteredWithItsReasonAndABoundedCopy() {
        HubSimulator hub = hub(1);
        WorkerNode node = started(config(hub), new SimpleMeterRegistry());
        Map<String, String> fields = new HashMap<>();
        fields.put("key", "wide");
        for (int i = 0; i < 4_100; i++) {
            fields.put("f" + i, "v" + i);
        }
        try (Jedis j = redis.server().newJedis()) {
            j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, fields);
        }
        List<Job> jobs = WorkerNodeTest.jobs("hub-fetch", 20);
        node.queue().enqueue(jobs);
        await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().dead() == 1 && resultIds().size() == 20);
        DeadLetterEntry dead = node.queue().deadLetters(1).getFirst();
        assertThat(dead.kind()).isEqualTo("bad-job");
        assertThat(dead.reason()).contains("4101 fields");
        try (Jedis j = redis.server().newJedis()) {
            Map<String, String> stored = j.xrange("sluice:dead", "-", "+").getFirst().getFields();
            // A bounded copy with the job's key first, its size and a hash of the whole.
            assertThat(stored).containsEntry("dead.truncated", "1").containsEntry("dead.fields", "4101")
                    .containsEntry("key", "wide").containsEntry("dead.job_id", "hub-fetch:wide").containsKey("dead.sha256");
            assertThat(stored.size()).isLessThanOrEqualTo(64 + 16);
        }
        assertThat(node.queue().replayDeadLetters(List.of(dead.id()))).isZero();
        assertNoneMissing(node, jobs);
    }
}
