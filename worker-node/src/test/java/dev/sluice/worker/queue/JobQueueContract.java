package dev.sluice.worker.queue;

import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.job.Job;
import dev.sluice.control.Backfills;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The contract every {@link JobQueue} adapter keeps, run against a real redis-server. Subclasses only say which
 * adapter to build. Each queue's node holds its liveness record, as a worker node does before it starts its queue;
 * a test renews it where the node is meant to be alive, and leaves it standing still where the node is meant to
 * have crashed.
 */
abstract class JobQueueContract {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    /** The lease of every node's record here. */
    protected static final Duration LEASE = Duration.ofSeconds(1);

    private final List<AutoCloseable> closing = new ArrayList<>();
    private final Map<JobQueue, NodeRecord> records = new IdentityHashMap<>();

    protected abstract String mode();

    protected abstract JobQueue create(SluiceConfig config, RedisConnections connections);

    /** A started queue for node {@code nodeId}, whose record the node has just claimed (and renews no more). */
    protected JobQueue queue(String nodeId, String... overrides) {
        List<String> all = new ArrayList<>(List.of("queue.mode", mode(), "node.id", nodeId, "redis.pool_size", "4",
                "node.lease_ms", Long.toString(LEASE.toMillis())));
        all.addAll(List.of(overrides));
        SluiceConfig config = TestConfigs.config(redis.url(), all.toArray(String[]::new));
        RedisConnections connections = new RedisConnections(config.redis(), nodeId);
        closing.add(connections);
        NodeRecord record = new NodeRecord(connections, nodeId, Duration.ofMillis(config.node().leaseMs()));
        try {
            record.claim();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while claiming node id " + nodeId, e);
        }
        JobQueue queue = create(config, connections);
        queue.start();
        closing.add(queue);
        records.put(queue, record);
        return queue;
    }

    /** Renews the liveness record of {@code queue}'s node, as a live node does every third of its lease. */
    protected void renew(JobQueue queue) {
        records.get(queue).renew();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    static List<Job> jobs(int n) {
        return IntStream.range(0, n).mapToObj(i -> Job.of("noop", "k" + i)).toList();
    }

    static List<Delivery> fetchAll(JobQueue queue, int expected) {
        List<Delivery> all = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            all.addAll(queue.fetch(1000, Duration.ofMillis(50)));
            return all.size() >= expected;
        });
        return all;
    }

    static void completeAll(JobQueue queue, List<Delivery> deliveries) {
        queue.complete(deliveries.stream().<Completion>map(Completion.Ack::new).toList());
    }

    @Test
    void everyEnqueuedJobIsFetchedOnce() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(250));
        List<Delivery> got = fetchAll(q, 250);
        assertThat(got).hasSize(250);
        assertThat(got).extracting(d -> d.job().id()).doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(jobs(250).stream().map(Job::id).toList());
        assertThat(got).allSatisfy(d -> assertThat(d.deliveries()).isEqualTo(1));
        assertThat(q.fetch(10, Duration.ofMillis(50))).isEmpty();
    }

    @Test
    void fetchNeverReturnsMoreThanAsked() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(30));
        assertThat(q.fetch(7, Duration.ofMillis(100))).hasSizeLessThanOrEqualTo(7).isNotEmpty();
    }

    @Test
    void acknowledgedJobsLeaveTheQueue() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(20));
        List<Delivery> got = fetchAll(q, 20);
        assertThat(q.stats().pending()).isEqualTo(20);
        completeAll(q, got);
        QueueStats stats = q.stats();
        assertThat(stats.pending()).isZero();
        assertThat(stats.waiting()).isZero();
        assertThat(stats.backlog()).isZero();
    }

    /** The backfills of this mode's queue, as the CLI and the coordinator name them. */
    private Backfills backfills() {
        QueueConfig config = TestConfigs.config(redis.url(), "queue.mode", mode()).queue();
        return new Backfills(mode().equals("list") ? config.list() : config.stream());
    }

    private static Map<String, String> countsOf(Backfills backfills, String id) {
        try (Jedis j = redis.server().newJedis()) {
            return j.hgetAll(backfills.key(id));
        }
    }

    @Test
    void aBackfillCountsEachJobOnceWhenItEndsThroughRetriesRepeatedAcksAndDeadLetters() {
        Backfills backfills = backfills();
        try (Jedis j = redis.server().newJedis()) {
            assertThat(backfills.begin(j, "b-1", "test")).isTrue();
            assertThat(backfills.begin(j, "b-1", "someone else")).as("an id in use is refused").isFalse();
            backfills.reserve(j, "b-1", 4);
            backfills.settle(j, "b-1", 0);
        }
        JobQueue q = queue("node-a");
        q.enqueue(IntStream.range(0, 4).mapToObj(i -> Job.of("noop", "k" + i).inBatch("b-1")).toList());
        q.enqueue(List.of(Job.of("noop", "other")));
        List<Delivery> got = fetchAll(q, 5);
        Map<String, Delivery> byKey = new java.util.HashMap<>();
        got.forEach(d -> byKey.put(d.job().key(), d));
        assertThat(byKey.get("k0").batch()).isEqualTo("b-1");
        assertThat(byKey.get("other").batch()).isNull();

        Completion ack0 = new Completion.Ack(byKey.get("k0"));
        q.complete(List.of(ack0, new Completion.Ack(byKey.get("other"))));
        q.complete(List.of(ack0));
        q.complete(List.of(new Completion.DeadLetter(byKey.get("k1"), ErrorKind.HUB_REJECTED, "404", 1)));
        q.complete(List.of(new Completion.DeadLetter(byKey.get("k1"), ErrorKind.HUB_REJECTED, "404", 1)));
        q.complete(List.of(new Completion.Retry(byKey.get("k2"), byKey.get("k2").job().nextAttempt(), 0)));
        q.complete(List.of(new Completion.HandBack(byKey.get("k3"))));
        assertThat(countsOf(backfills, "b-1")).as("an ack applied twice counts once; retries and hand-backs do not end a job")
                .containsEntry("done", "1").containsEntry("dead", "1").containsEntry("total", "4");

        assertThat(q.promoteDue(100)).isEqualTo(1);
        List<Delivery> again = fetchAll(q, 2);
        assertThat(again).allSatisfy(d -> assertThat(d.batch()).as("the backfill's id survives a retry and a hand-back")
                .isEqualTo("b-1"));
        q.complete(again.stream().<Completion>map(Completion.Ack::new).toList());
        assertThat(countsOf(backfills, "b-1")).containsEntry("done", "3").containsEntry("dead", "1");

        assertThat(q.replayDeadLetters(q.deadLetters(10).stream().map(DeadLetterEntry::id).toList())).isEqualTo(1);
        assertThat(countsOf(backfills, "b-1")).as("a replayed letter leaves 'dead' until it ends again")
                .containsEntry("dead", "0").containsEntry("replayed", "1");
        Delivery replayed = fetchAll(q, 1).getFirst();
        assertThat(replayed.batch()).isEqualTo("b-1");
        q.complete(List.of(new Completion.Ack(replayed)));
        assertThat(countsOf(backfills, "b-1")).containsEntry("done", "4").containsEntry("dead", "0");
        try (Jedis j = redis.server().newJedis()) {
            Backfills.Backfill b = backfills.recent(j, 10).backfills().getFirst();
            assertThat(b.id()).isEqualTo("b-1");
            assertThat(b.by()).isEqualTo("test");
            assertThat(b.left()).isZero();
            assertThat(b.finished()).as("still enqueuing").isFalse();
            backfills.ended(j, "b-1", true, 0);
            assertThat(backfills.recent(j, 10).backfills().getFirst().finished()).isTrue();
        }
    }

    @Test
    void aJobNamingAnUnknownBackfillIsNotCountedAnywhere() {
        Backfills backfills = backfills();
        JobQueue q = queue("node-a");
        q.enqueue(List.of(Job.of("noop", "k").inBatch("never-begun")));
        Delivery d = fetchAll(q, 1).getFirst();
        q.complete(List.of(new Completion.Ack(d)));
        assertThat(countsOf(backfills, "never-begun")).isEmpty();
        assertThat(q.stats().backlog()).isZero();
    }

    @Test
    void retryKeepsTheIdAndComesBackWhenDueWithItsAttempts() {
        JobQueue q = queue("node-a");
        q.enqueue(List.of(new Job("order-7", "noop", "k", "{\"a\":1}", 0)));
        Delivery d = fetchAll(q, 1).getFirst();
        q.complete(List.of(new Completion.Retry(d, d.job().nextAttempt(), 0)));
        assertThat(q.stats().delayed()).isEqualTo(1);
        assertThat(q.stats().pending()).isZero();
        assertThat(q.promoteDue(100)).isEqualTo(1);
        Delivery again = fetchAll(q, 1).getFirst();
        assertThat(again.job()).isEqualTo(new Job("order-7", "noop", "k", "{\"a\":1}", 1));
    }

    @Test
    void retryIsNotPromotedBeforeItIsDue() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(1));
        Delivery d = fetchAll(q, 1).getFirst();
        q.complete(List.of(new Completion.Retry(d, d.job().nextAttempt(), 60_000)));
        assertThat(q.promoteDue(100)).isZero();
        assertThat(q.stats().delayed()).isEqualTo(1);
    }

    @Test
    void concurrentPromotersMoveEachDueRetryExactlyOnce() throws Exception {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(300));
        List<Delivery> got = fetchAll(q, 300);
        q.complete(got.stream().<Completion>map(d -> new Completion.Retry(d, d.job().nextAttempt(), 0)).toList());
        List<JobQueue> promoters = List.of(queue("p1"), queue("p2"), queue("p3"));
        CountDownLatch go = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(3)) {
            List<Future<Integer>> moved = new ArrayList<>();
            for (JobQueue p : promoters) {
                moved.add(pool.submit(() -> {
                    go.await();
                    int total = 0;
                    int n;
                    do {
                        n = p.promoteDue(7);
                        total += n;
                    } while (n > 0);
                    return total;
                }));
            }
            go.countDown();
            int sum = 0;
            for (Future<Integer> f : moved) {
                sum += f.get();
            }
            assertThat(sum).isEqualTo(300);
        }
        List<Delivery> again = fetchAll(q, 300);
        assertThat(again).extracting(d -> d.job().id()).doesNotHaveDuplicates().hasSize(300);
        assertThat(q.fetch(10, Duration.ofMillis(50))).isEmpty();
    }

    @Test
    void deadLetterKeepsTheOriginalAndTheReasonAndCanBeReplayed() {
        JobQueue q = queue("node-a");
        q.enqueue(List.of(new Job("order-9", "noop", "k9", null, 2)));
        Delivery d = fetchAll(q, 1).getFirst();
        q.complete(List.of(new Completion.DeadLetter(d, ErrorKind.HUB_REJECTED, "Hub answered 404 for k9", 3)));
        assertThat(q.stats().pending()).isZero();
        List<DeadLetterEntry> dead = q.deadLetters(10);
        assertThat(dead).hasSize(1);
        DeadLetterEntry e = dead.getFirst();
        assertThat(e.jobId()).isEqualTo("order-9");
        assertThat(e.kind()).isEqualTo("hub-rejected");
        assertThat(e.reason()).isEqualTo("Hub answered 404 for k9");
        assertThat(e.attempts()).isEqualTo(3);
        assertThat(e.node()).isEqualTo("node-a");
        assertThat(q.stats().dead()).isEqualTo(1);

        assertThat(q.replayDeadLetters(List.of(e.id()))).isEqualTo(1);
        assertThat(q.stats().dead()).isZero();
        Delivery replayed = fetchAll(q, 1).getFirst();
        assertThat(replayed.job().id()).isEqualTo("order-9");
        assertThat(replayed.job().attempts()).isZero();
    }

    @Test
    void malformedJobsArriveWithTheirParseError() {
        JobQueue q = queue("node-a");
        q.enqueueRaw(List.of("{\"type\":\"noop\"}", "{\"key\":\"k\",\"payload\":\"{oops\"}", "{\"key\":\"k\",\"type\":\"Bad Type\"}"));
        List<Delivery> got = fetchAll(q, 3);
        assertThat(got).allSatisfy(d -> assertThat(d.malformed()).isTrue());
        assertThat(got).extracting(d -> d.parseError().getMessage())
                .anySatisfy(m -> assertThat(m).contains("missing field 'key'"))
                .anySatisfy(m -> assertThat(m).contains("field 'payload' is not valid JSON"))
                .anySatisfy(m -> assertThat(m).contains("field 'type' must be a handler name"));
        q.complete(got.stream().<Completion>map(d -> new Completion.DeadLetter(d, ErrorKind.BAD_JOB,
                d.parseError().getMessage(), 0)).toList());
        assertThat(q.deadLetters(10)).hasSize(3).allSatisfy(e -> assertThat(e.kind()).isEqualTo("bad-job"));
    }

    @Test
    void handedBackJobIsAvailableToAnotherNodeAtOnce() {
        JobQueue a = queue("node-a");
        JobQueue b = queue("node-b");
        a.enqueue(jobs(5));
        List<Delivery> got = fetchAll(a, 5);
        a.complete(got.stream().<Completion>map(Completion.HandBack::new).toList());
        List<Delivery> taken = fetchAll(b, 5);
        assertThat(taken).extracting(d -> d.job().id()).containsExactlyInAnyOrderElementsOf(
                got.stream().map(d -> d.job().id()).toList());
        assertThat(a.stats().pendingByConsumer().getOrDefault("node-a", 0L)).isZero();
    }

    /** Stream mode takes them after the visibility timeout; list mode once the node's record stood still a lease. */
    @Test
    void deadNodesJobsAreTakenOverWithARaisedDeliveryCount() {
        JobQueue dead = queue("node-dead", "queue.visibility_timeout_secs", "1");
        JobQueue alive = queue("node-alive", "queue.visibility_timeout_secs", "1");
        dead.enqueue(jobs(10));
        List<Delivery> lost = fetchAll(dead, 10);
        // node-dead neither keeps them alive nor renews its record: it is gone.
        List<Delivery> recovered = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> {
            recovered.addAll(alive.reclaim(100));
            recovered.addAll(alive.fetch(100, Duration.ofMillis(20)));
            return recovered.size() >= 10;
        });
        assertThat(recovered).extracting(d -> d.job().id())
                .containsExactlyInAnyOrderElementsOf(lost.stream().map(d -> d.job().id()).toList());
        assertThat(recovered).allSatisfy(d -> assertThat(d.deliveries()).isEqualTo(2));
    }

    /** Held three visibility timeouts and three leases by a node that does what a live node does. */
    @Test
    void liveNodeKeepsItsJobsPastTheVisibilityTimeout() throws InterruptedException {
        JobQueue owner = queue("node-owner", "queue.visibility_timeout_secs", "1");
        JobQueue other = queue("node-other", "queue.visibility_timeout_secs", "1");
        owner.enqueue(jobs(10));
        List<Delivery> held = fetchAll(owner, 10);
        long until = System.nanoTime() + Duration.ofMillis(3_000).toNanos();
        Set<String> stolen = new HashSet<>();
        while (System.nanoTime() < until) {
            owner.keepAlive(held);
            renew(owner);
            for (Delivery d : other.reclaim(100)) {
                stolen.add(d.describe());
            }
            for (Delivery d : other.fetch(100, Duration.ofMillis(10))) {
                stolen.add(d.describe());
            }
            Thread.sleep(250);
        }
        assertThat(stolen).as("jobs taken from a live node").isEmpty();
        completeAll(owner, held);
        assertThat(owner.stats().backlog()).isZero();
    }

    /** Jobs a survivor got from a gone node: handed over directly, or put back on the queue and fetched. */
    private static List<Delivery> takenOver(JobQueue survivor, List<Delivery> handed, int expected) {
        List<Delivery> all = new ArrayList<>(handed);
        if (all.size() < expected) {
            all.addAll(fetchAll(survivor, expected - all.size()));
        }
        return all;
    }

    @Test
    void goneNodesInFlightJobsAreTakenOverAtOnceEachByOneSurvivor() {
        JobQueue gone = queue("gone-node", "queue.visibility_timeout_secs", "3600");
        gone.enqueue(jobs(5));
        List<Delivery> held = fetchAll(gone, 5);
        JobQueue a = queue("survivor-a", "queue.visibility_timeout_secs", "3600");
        JobQueue b = queue("survivor-b", "queue.visibility_timeout_secs", "3600");

        List<Delivery> handed = new ArrayList<>(a.reclaimFrom("gone-node", 3));
        assertThat(handed).hasSizeLessThanOrEqualTo(3);
        List<Delivery> toB = b.reclaimFrom("gone-node", 100);
        handed.addAll(toB);
        assertThat(a.reclaimFrom("gone-node", 100)).as("nothing of it is left").isEmpty();
        List<Delivery> all = takenOver(a, handed, 5);

        assertThat(all).extracting(Delivery::describe).as("each job once")
                .containsExactlyInAnyOrderElementsOf(held.stream().map(Delivery::describe).toList());
        assertThat(all).allSatisfy(d -> assertThat(d.deliveries()).as("delivered a second time").isEqualTo(2));
        // Each survivor completes what it holds (a completion of a job another node holds changes nothing).
        completeAll(b, toB);
        completeAll(a, all.stream().filter(d -> !toB.contains(d)).toList());
        assertThat(a.stats().backlog()).isZero();
    }

    @Test
    void concurrentSurvivorsNeverTakeOverTheSameJob() throws Exception {
        JobQueue gone = queue("gone-node", "queue.visibility_timeout_secs", "3600");
        gone.enqueue(jobs(60));
        fetchAll(gone, 60);
        List<JobQueue> survivors = List.of(queue("s1"), queue("s2"), queue("s3"), queue("s4"));
        CountDownLatch start = new CountDownLatch(1);
        List<Future<List<Delivery>>> claims = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(survivors.size())) {
            for (JobQueue s : survivors) {
                claims.add(pool.submit(() -> {
                    start.await();
                    List<Delivery> mine = new ArrayList<>();
                    List<Delivery> got;
                    do {
                        got = s.reclaimFrom("gone-node", 7);
                        mine.addAll(got);
                    } while (got.size() == 7);
                    return mine;
                }));
            }
            start.countDown();
            List<String> claimed = new ArrayList<>();
            for (Future<List<Delivery>> f : claims) {
                f.get().forEach(d -> claimed.add(d.describe()));
            }
            if (claimed.isEmpty()) { // an adapter that puts them back: they are fetched once each
                Set<String> fetched = new HashSet<>();
                for (Delivery d : fetchAll(survivors.getFirst(), 60)) {
                    assertThat(fetched.add(d.describe())).isTrue();
                }
                assertThat(fetched).hasSize(60);
            } else {
                assertThat(claimed).hasSize(60).doesNotHaveDuplicates();
            }
        }
    }

    @Test
    void nodeNeverTakesOverItsOwnJobsNorFindsAnythingOfANodeThatHeldNothing() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(2));
        fetchAll(q, 2);
        assertThat(q.reclaimFrom("node-a", 10)).isEmpty();
        assertThat(q.reclaimFrom("never-existed", 10)).isEmpty();
        assertThat(q.fetch(10, Duration.ofMillis(20))).as("its own jobs stayed in flight").isEmpty();
    }

    @Test
    void completionsAreIdempotent() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(1));
        Delivery d = fetchAll(q, 1).getFirst();
        completeAll(q, List.of(d));
        completeAll(q, List.of(d));
        q.complete(List.of(new Completion.Retry(d, d.job().nextAttempt(), 0)));
        q.complete(List.of(new Completion.DeadLetter(d, ErrorKind.INTERNAL, "late", 1)));
        QueueStats stats = q.stats();
        assertThat(stats.delayed()).isZero();
        assertThat(stats.dead()).isZero();
        assertThat(stats.backlog()).isZero();
    }

    /**
     * A node cut off from the cluster while the others took its jobs over still finishes its own attempts: its
     * retry, dead letter or hand-back of a job that is no longer its own changes nothing (the new holder decides).
     */
    @Test
    void completionsOfAJobAnotherNodeTookOverChangeNothing() {
        Backfills backfills = backfills();
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "taken", "test");
        }
        JobQueue cutOff = queue("cut-off", "queue.visibility_timeout_secs", "3600");
        cutOff.enqueue(jobs(4).stream().map(job -> job.inBatch("taken")).toList());
        List<Delivery> held = fetchAll(cutOff, 4);
        JobQueue survivor = queue("survivor", "queue.visibility_timeout_secs", "3600");
        List<Delivery> taken = takenOver(survivor, new ArrayList<>(survivor.reclaimFrom("cut-off", 100)), 4);
        assertThat(taken).allSatisfy(d -> assertThat(d.batch()).isEqualTo("taken"));

        cutOff.complete(List.of(new Completion.Retry(held.get(0), held.get(0).job().nextAttempt(), 0),
                new Completion.DeadLetter(held.get(1), ErrorKind.INTERNAL, "late", 1),
                new Completion.HandBack(held.get(2)), new Completion.Ack(held.get(3))));
        QueueStats stats = survivor.stats();
        assertThat(stats.delayed()).as("retries added by the cut-off node").isZero();
        assertThat(stats.dead()).as("dead letters added by the cut-off node").isZero();
        assertThat(survivor.fetch(10, Duration.ofMillis(200))).as("jobs handed back by the cut-off node").isEmpty();
        assertThat(countsOf(backfills, "taken")).as("the cut-off node's late ends count nothing")
                .containsEntry("done", "0").containsEntry("dead", "0");
        completeAll(survivor, taken);
        assertThat(survivor.stats().backlog()).isZero();
        assertThat(countsOf(backfills, "taken")).as("each job counted once, by the node that ended it")
                .containsEntry("done", "4").containsEntry("dead", "0");
    }

    @Test
    void aJobThatCannotBeParsedIsStillCountedDeadForTheBackfillItNames() {
        Backfills backfills = backfills();
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "b-2", "test");
        }
        JobQueue q = queue("node-a");
        // A job schema version this node does not read: what an older node sees of a newer producer's job.
        q.enqueueRaw(List.of("{\"key\":\"k\",\"v\":\"99\",\"batch\":\"b-2\"}"));
        Delivery d = fetchAll(q, 1).getFirst();
        assertThat(d.malformed()).isTrue();
        assertThat(d.batch()).isEqualTo("b-2");
        q.complete(List.of(new Completion.DeadLetter(d, ErrorKind.BAD_JOB, d.parseError().getMessage(), 0)));
        assertThat(countsOf(backfills, "b-2")).containsEntry("dead", "1");
    }

    @Test
    void aReplayTakesBackOnlyACountThatWasMade() {
        Backfills backfills = backfills();
        try (Jedis j = redis.server().newJedis()) {
            backfills.begin(j, "b-3", "test");
        }
        JobQueue q = queue("node-a");
        q.enqueue(List.of(Job.of("noop", "counted").inBatch("b-3")));
        Delivery d = fetchAll(q, 1).getFirst();
        q.complete(List.of(new Completion.DeadLetter(d, ErrorKind.HUB_REJECTED, "404", 1)));
        String counted = q.deadLetters(10).getFirst().id();
        // A letter of the same backfill written by a node older than backfills: it names the batch, no count.
        QueueConfig config = TestConfigs.config(redis.url(), "queue.mode", mode()).queue();
        try (Jedis j = redis.server().newJedis()) {
            j.xadd(config.deadLetter(), StreamEntryID.NEW_ENTRY, mode().equals("list")
                    ? Map.of("element", "{\"key\":\"old\",\"type\":\"noop\",\"batch\":\"b-3\"}", "dead.kind", "hub-rejected")
                    : Map.of("key", "old", "type", "noop", "batch", "b-3", "dead.kind", "hub-rejected"));
        }
        assertThat(countsOf(backfills, "b-3")).containsEntry("dead", "1");
        List<String> ids = q.deadLetters(10).stream().map(DeadLetterEntry::id).toList();
        assertThat(q.replayDeadLetters(ids)).isEqualTo(2);
        assertThat(countsOf(backfills, "b-3")).as("only the counted letter moves to 'replayed'")
                .containsEntry("dead", "0").containsEntry("replayed", "1");
        assertThat(ids).contains(counted);
    }

    @Test
    void twoEqualJobsThatFailAlikeAreBothRetried() {
        JobQueue q = queue("node-a");
        q.enqueue(List.of(Job.of("noop", "twice"), Job.of("noop", "twice")));
        List<Delivery> got = fetchAll(q, 2);
        q.complete(got.stream().<Completion>map(d -> new Completion.Retry(d, d.job().nextAttempt(), 0)).toList());
        assertThat(q.stats().delayed()).as("a key enqueued twice is two jobs in the delayed set").isEqualTo(2);
        assertThat(q.promoteDue(10)).isEqualTo(2);
        assertThat(fetchAll(q, 2)).hasSize(2);
    }
}
