package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.control.FleetRecord;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.queue.QueueStats;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** One or two real worker nodes in this JVM against a real redis-server and the Hub simulator over HTTP. */
class WorkerNodeTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private HubSimulator hub(HubSimulator.Builder builder) {
        HubSimulator hub = builder.build().start();
        closing.add(hub);
        return hub;
    }

    private WorkerNode node(HubSimulator hub, String... overrides) {
        // The breaker has tests of its own; here failures must reach the retry logic, so it never opens.
        List<String> all = new ArrayList<>(List.of("hub.base_url", hub.baseUrl(), "redis.pool_size", "5",
                "retry.base_delay_ms", "20", "retry.max_delay_ms", "200", "node.drain_timeout_secs", "5",
                "breaker.failure_threshold", "1000"));
        all.addAll(List.of(overrides));
        SluiceConfig config = TestConfigs.config(redis.url(), all.toArray(String[]::new));
        WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry());
        closing.add(node);
        node.start();
        return node;
    }

    static List<Job> jobs(String type, int n) {
        return IntStream.range(0, n).mapToObj(i -> Job.of(type, "key-" + i)).toList();
    }

    private static long results() {
        try (Jedis j = redis.server().newJedis()) {
            return j.keys("sluice:result:*").size();
        }
    }

    private static void awaitDrained(WorkerNode node, long results, Duration within) {
        await().atMost(within).pollInterval(Duration.ofMillis(100)).until(() -> results() >= results);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .until(() -> node.queue().stats().backlog() == 0);
    }

    @Test
    void backfillEndsWithEveryResultInTheSinkAndTheHubWithinLimits() {
        HubSimulator hub = hub(HubSimulator.builder().latencyMs(5).maxRequestsPerSecond(400).maxInFlight(20));
        WorkerNode node = node(hub, "hub.max_requests_per_second", "400", "hub.max_concurrent_connections", "20");
        node.queue().enqueue(jobs("hub-fetch", 400));
        awaitDrained(node, 400, Duration.ofSeconds(30));
        HubStats stats = hub.stats();
        assertThat(stats.count(200)).isEqualTo(400);
        assertThat(stats.distinctKeys()).isEqualTo(400);
        assertThat(stats.violations().total()).isZero();
        assertThat(stats.maxInFlight()).isLessThanOrEqualTo(20);
        assertThat(stats.maxWindowRequests()).isLessThanOrEqualTo(400);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.get("sluice:result:hub-fetch:key-7")).contains("\"key\":\"key-7\"");
        }
    }

    @Test
    void listModeBackfillFinishesToo() {
        HubSimulator hub = hub(HubSimulator.builder().latencyMs(2));
        WorkerNode node = node(hub, "queue.mode", "list", "hub.max_requests_per_second", "1000",
                "hub.max_concurrent_connections", "20");
        node.queue().enqueue(jobs("hub-fetch", 200));
        awaitDrained(node, 200, Duration.ofSeconds(30));
        assertThat(hub.stats().count(200)).isEqualTo(200);
    }

    @Test
    void jobThatFailsTwiceIsDoneOnTheThirdAttempt() {
        HubSimulator hub = hub(HubSimulator.builder().failFirst(2));
        WorkerNode node = node(hub, "hub.max_requests_per_second", "1000", "hub.max_concurrent_connections", "20");
        node.queue().enqueue(jobs("hub-fetch", 10));
        awaitDrained(node, 10, Duration.ofSeconds(30));
        HubStats stats = hub.stats();
        assertThat(stats.count(500)).isEqualTo(20);
        assertThat(stats.count(200)).isEqualTo(10);
        assertThat(stats.totalRequests()).isEqualTo(30);
        assertThat(node.queue().stats().dead()).isZero();
    }

    @Test
    void permanentFailureIsDeadLetteredAtOnceWithItsReason() {
        HubSimulator hub = hub(HubSimulator.builder());
        WorkerNode node = node(hub, "hub.path", "/no-such-api/{key}");
        node.queue().enqueue(jobs("hub-fetch", 3));
        await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().dead() == 3);
        List<DeadLetterEntry> dead = node.queue().deadLetters(10);
        assertThat(dead).allSatisfy(e -> {
            assertThat(e.kind()).isEqualTo("hub-rejected");
            assertThat(e.reason()).contains("Hub answered 404");
            assertThat(e.attempts()).isEqualTo(1);
        });
    }

    @Test
    void recoverableFailureIsDeadLetteredWhenAttemptsRunOut() {
        HubSimulator hub = hub(HubSimulator.builder().errorRate(1.0));
        WorkerNode node = node(hub, "retry.max_attempts", "3", "hub.max_requests_per_second", "1000");
        node.queue().enqueue(jobs("hub-fetch", 2));
        await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().dead() == 2);
        assertThat(node.queue().deadLetters(10)).allSatisfy(e -> {
            assertThat(e.kind()).isEqualTo("hub-unavailable");
            assertThat(e.reason()).startsWith("gave up after 3 attempts");
            assertThat(e.attempts()).isEqualTo(3);
        });
        assertThat(hub.stats().totalRequests()).isEqualTo(6);
    }

    @Test
    void malformedJobsAreDeadLetteredWhileGoodJobsAroundThemFinish() {
        HubSimulator hub = hub(HubSimulator.builder());
        WorkerNode node = node(hub, "hub.max_requests_per_second", "1000", "hub.max_concurrent_connections", "20",
                "queue.max_job_bytes", "2048");
        List<String> corpus = List.of(
                "{\"type\":\"hub-fetch\"}",
                "{\"key\":\"\"}",
                "{\"key\":\"k\",\"payload\":\"{not json\"}",
                "{\"key\":\"k\",\"type\":\"No Such Type!\"}",
                "{\"key\":\"k\",\"attempts\":\"many\"}",
                "{\"key\":\"k\",\"v\":\"99\"}",
                "{\"key\":\"" + "x".repeat(3000) + "\"}",
                "{\"key\":\"k\",\"type\":\"unknown-handler\"}");
        List<String> mixed = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            mixed.add("good-" + i);
            if (i < corpus.size()) {
                mixed.add(corpus.get(i));
            }
        }
        node.queue().enqueueRaw(mixed);
        awaitDrained(node, 40, Duration.ofSeconds(30));
        List<DeadLetterEntry> dead = node.queue().deadLetters(100);
        assertThat(dead).hasSize(corpus.size()).allSatisfy(e -> {
            assertThat(e.kind()).isEqualTo("bad-job");
            assertThat(e.reason()).isNotBlank();
        });
        assertThat(dead).extracting(DeadLetterEntry::reason)
                .anySatisfy(r -> assertThat(r).contains("missing field 'key'"))
                .anySatisfy(r -> assertThat(r).contains("more than queue.max_job_bytes"))
                .anySatisfy(r -> assertThat(r).contains("no handler for job type 'unknown-handler'"))
                .anySatisfy(r -> assertThat(r).contains("schema version 99"));
        assertThat(hub.stats().count(200)).isEqualTo(40);
    }

    @Test
    void slowJobsOnTwoNodesAreNeitherStolenNorTakenForPoison() {
        HubSimulator hub = hub(HubSimulator.builder().latencyMs(2_000));
        String[] settings = {"queue.visibility_timeout_secs", "1", "hub.max_concurrent_connections", "100",
                "hub.max_requests_per_second", "1000", "hub.request_timeout_ms", "5000", "node.concurrency", "20"};
        WorkerNode a = node(hub, concat(settings, "node.id", "slow-a"));
        WorkerNode b = node(hub, concat(settings, "node.id", "slow-b"));
        a.queue().enqueue(jobs("hub-fetch", 60));
        awaitDrained(a, 60, Duration.ofSeconds(60));
        HubStats stats = hub.stats();
        assertThat(stats.totalRequests()).as("each job called the Hub once: none was stolen").isEqualTo(60);
        assertThat(stats.distinctKeys()).isEqualTo(60);
        assertThat(a.queue().stats().dead()).isZero();
        assertThat(b.queue().stats().dead()).isZero();
    }

    @Test
    void drainHandsBackJobsThatHaveNotStartedAndAnotherNodeFinishesThem() {
        HubSimulator hub = hub(HubSimulator.builder().latencyMs(300));
        WorkerNode first = node(hub, "node.id", "drainer", "hub.max_concurrent_connections", "1",
                "hub.max_requests_per_second", "1000", "node.concurrency", "50");
        first.queue().enqueue(jobs("hub-fetch", 50));
        await().atMost(Duration.ofSeconds(10)).until(() -> first.worker().inFlightCount() == 50);
        long start = System.nanoTime();
        int handedBack = first.stop();
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertThat(handedBack).isGreaterThanOrEqualTo(45);
        assertThat(tookMs).as("hand-back does not wait for the visibility timeout").isLessThan(5_000);
        QueueStats afterDrain = TestQueues.stats(redis.url());
        assertThat(afterDrain.pending()).isZero();
        assertThat(afterDrain.waiting() + results()).isEqualTo(50);

        WorkerNode second = node(hub, "node.id", "finisher", "hub.max_concurrent_connections", "20",
                "hub.max_requests_per_second", "1000");
        awaitDrained(second, 50, Duration.ofSeconds(30));
    }

    @Test
    void pausedWorkerFetchesNothingUntilResumed() {
        HubSimulator hub = hub(HubSimulator.builder());
        WorkerNode node = node(hub, "hub.max_requests_per_second", "1000");
        node.worker().setPaused("test", true);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.worker().fetcherIdle());
        node.queue().enqueue(jobs("noop", 20));
        await().during(Duration.ofMillis(700)).atMost(Duration.ofSeconds(2))
                .until(() -> TestQueues.stats(redis.url()).waiting() == 20);
        node.worker().setPaused("test", false);
        await().atMost(Duration.ofSeconds(10)).until(() -> TestQueues.stats(redis.url()).backlog() == 0);
    }

    @Test
    void aFleetPauseHandsBackJobsNotYetSentUnattemptedAndTheHubSeesNothingNewUntilResumed() {
        // One request on the wire at a time and 100 ms each: of the 30 jobs in flight, 29 wait for their permit (the
        // fetcher keeps taking more as jobs end).
        HubSimulator hub = hub(HubSimulator.builder().latencyMs(100));
        WorkerNode node = node(hub, "hub.max_concurrent_connections", "1", "hub.max_requests_per_second", "1000",
                "node.concurrency", "30");
        node.queue().enqueue(jobs("hub-fetch", 60));
        await().atMost(Duration.ofSeconds(10)).until(() -> node.worker().inFlightCount() >= 25 && hub.stats().count(200) >= 1);
        FleetRecord record = new FleetRecord("sluice");
        long paused;
        try (Jedis j = redis.server().newJedis()) {
            record.setPaused(j, true, "test", "");
            paused = System.nanoTime();
        }
        // Within 2 s: every job not sent is back in the queue, unattempted; only the request on the wire finished.
        // (The pause wakes the jobs waiting for their permit: they go back at once.)
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(50))
                .until(() -> node.worker().inFlightCount() == 0);
        assertThat(node.fleetPaused()).isTrue();
        long sentBefore = hub.served().size();
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(3))
                .until(() -> hub.served().size() == sentBefore);
        assertThat(hub.served()).as("requests that arrived later than 0.5 s after the pause")
                .noneMatch(r -> r.arrivedAt() - paused > TimeUnit.MILLISECONDS.toNanos(500));
        try (Jedis j = redis.server().newJedis()) {
            var waiting = j.xrange("sluice:jobs", (StreamEntryID) null, null);
            assertThat(waiting).as("every job not done is back in the stream").hasSize((int) (60 - results()))
                    .hasSizeGreaterThan(20);
            assertThat(waiting).as("handed back unattempted").allSatisfy(e ->
                    assertThat(e.getFields().getOrDefault("attempts", "0")).isEqualTo("0"));
            assertThat(j.xlen("sluice:dead")).isZero();
            record.setPaused(j, false, "test", "");
        }
        awaitDrained(node, 60, Duration.ofSeconds(30));
    }

    @Test
    void aNodeStartedWhileTheFleetIsPausedSendsNothingUntilResumed() {
        // The pause lives in Redis, so it outlives every node: a node (re)started during it must not send one request.
        FleetRecord record = new FleetRecord("sluice");
        try (Jedis j = redis.server().newJedis()) {
            record.setPaused(j, true, "test", "restart while paused");
            for (int i = 0; i < 30; i++) {
                j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, java.util.Map.of("key", "key-" + i));
            }
        }
        HubSimulator hub = hub(HubSimulator.builder());
        WorkerNode node = node(hub);
        assertThat(node.fleetPaused()).as("paused from the node's first read, before its first fetch").isTrue();
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
                .until(() -> hub.served().isEmpty() && TestQueues.stats(redis.url()).waiting() == 30);
        try (Jedis j = redis.server().newJedis()) {
            record.setPaused(j, false, "test", "");
        }
        awaitDrained(node, 30, Duration.ofSeconds(20));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
