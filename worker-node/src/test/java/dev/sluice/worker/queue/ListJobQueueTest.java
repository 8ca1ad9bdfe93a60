package dev.sluice.worker.queue;

import dev.sluice.worker.queue.list.ListJobQueue;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class ListJobQueueTest extends JobQueueContract {

    /** The monotonic clock of the queues created from now on (their judgement of other nodes' records). */
    private LongSupplier nanoTime = System::nanoTime;

    @Override
    protected String mode() {
        return "list";
    }

    @Override
    protected JobQueue create(SluiceConfig config, RedisConnections connections) {
        return new ListJobQueue(config.queue(), config.node().id(), connections, Clock.systemUTC(),
                new RecordWatch(Duration.ofMillis(config.node().leaseMs()), nanoTime));
    }

    private static long processing(String node) {
        try (Jedis j = redis.server().newJedis()) {
            return j.llen("sluice:queue:processing:" + node);
        }
    }

    @Test
    void bareKeysPushedByAProducerAreJobs() {
        JobQueue q = queue("node-a");
        try (Jedis j = redis.server().newJedis()) {
            j.lpush("sluice:queue", "user-1", "user-2");
        }
        assertThat(fetchAll(q, 2)).extracting(d -> d.job().id()).containsExactly("hub-fetch:user-1", "hub-fetch:user-2");
    }

    @Test
    void fetchedJobsSitInThisNodesProcessingList() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(4));
        fetchAll(q, 4);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.llen("sluice:queue:processing:node-a")).isEqualTo(4);
            assertThat(j.llen("sluice:queue")).isZero();
            assertThat(j.keys("sluice:queue:alive:*")).as("no heartbeat key beside the node's record").isEmpty();
        }
    }

    /**
     * A survivor judges a node's record on its own monotonic clock (moved here by hand): the clock starts at each
     * reading that finds the record moved, and the node's jobs go back to the queue once a full lease has passed
     * after the last such reading, not a nanosecond earlier.
     */
    @Test
    void aCrashedNodesJobsGoBackToTheQueueAFullLeaseAfterItsRecordWasLastSeenMoving() {
        JobQueue crashed = queue("crashed");
        crashed.enqueue(jobs(10));
        List<Delivery> held = fetchAll(crashed, 10);
        AtomicLong now = new AtomicLong(1_000_000_000L);
        nanoTime = now::get;
        JobQueue survivor = queue("survivor");

        survivor.reclaim(100); // first reading: the clock starts
        now.addAndGet(LEASE.toNanos() - 1);
        renew(crashed); // its last renewal, just before the lease was up
        survivor.reclaim(100); // the record moved: the clock starts again
        assertThat(processing("crashed")).isEqualTo(10);

        now.addAndGet(LEASE.toNanos() - 1);
        survivor.reclaim(100);
        assertThat(processing("crashed")).as("a nanosecond short of a lease after it was last seen moving").isEqualTo(10);
        assertThat(survivor.fetch(10, Duration.ofMillis(20))).isEmpty();

        now.addAndGet(1);
        survivor.reclaim(100);
        assertThat(processing("crashed")).isZero();
        List<Delivery> taken = fetchAll(survivor, 10);
        assertThat(taken).extracting(d -> d.job().id())
                .containsExactlyInAnyOrderElementsOf(held.stream().map(d -> d.job().id()).toList());
        assertThat(taken).allSatisfy(d -> assertThat(d.deliveries()).as("counted as redelivered").isEqualTo(2));
        assertThat(survivor.stats().pendingByConsumer()).as("the dead node is deregistered").doesNotContainKey("crashed");
        completeAll(survivor, taken);
        assertThat(survivor.stats().backlog()).isZero();
    }

    /** A node that stopped (its record released) or whose record expired after ten leases: nothing to wait for. */
    @Test
    void aNodeWhoseRecordIsGoneIsDeadAtOnce() {
        JobQueue gone = queue("gone");
        gone.enqueue(jobs(3));
        List<Delivery> held = fetchAll(gone, 3);
        try (Jedis j = redis.server().newJedis()) {
            j.del(NodeRecord.key("gone"));
        }
        JobQueue survivor = queue("survivor");
        survivor.reclaim(100);
        assertThat(processing("gone")).isZero();
        assertThat(fetchAll(survivor, 3)).extracting(Delivery::describe)
                .containsExactlyInAnyOrderElementsOf(held.stream().map(Delivery::describe).toList());
    }

    /**
     * A live node that holds its jobs, idle, for five visibility timeouts and over two leases, making no queue call at
     * all (no keep-alive), keeps them all: only its record moves, as the node's maintenance renews it.
     */
    @Test
    void aLiveNodeWhoseRecordKeepsMovingKeepsItsJobsIdleFarPastTheVisibilityTimeout() throws Exception {
        String[] settings = {"queue.visibility_timeout_secs", "1", "node.lease_ms", "2000"};
        JobQueue owner = queue("idle-owner", settings);
        owner.enqueue(jobs(10));
        List<Delivery> held = fetchAll(owner, 10);
        AtomicBoolean renewing = new AtomicBoolean(true);
        Thread renewals = Thread.ofVirtual().start(() -> {
            while (renewing.get()) {
                renew(owner);
                try {
                    Thread.sleep(Duration.ofMillis(2000).dividedBy(3));
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try {
            JobQueue survivor = queue("survivor", settings);
            await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(7)).pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        survivor.reclaim(100);
                        return processing("idle-owner") == 10 && survivor.fetch(10, Duration.ofMillis(1)).isEmpty();
                    });
        } finally {
            renewing.set(false);
            renewals.interrupt();
            renewals.join();
        }
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.hlen("sluice:queue:deliveries")).as("no job counted as redelivered").isZero();
        }
        completeAll(owner, held);
        assertThat(owner.stats().backlog()).as("each of its jobs was still its own to acknowledge").isZero();
    }
}
