package dev.sluice.worker.queue;

import dev.sluice.worker.queue.stream.StreamJobQueue;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.testkit.RedisServer;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class StreamJobQueueTest extends JobQueueContract {

    @Override
    protected String mode() {
        return "stream";
    }

    @Override
    protected JobQueue create(SluiceConfig config, RedisConnections connections) {
        return new StreamJobQueue(config.queue(), config.node().id(), connections, Clock.systemUTC());
    }

    @Test
    void acknowledgedEntriesAreTrimmedFromTheStream() {
        JobQueue q = queue("node-a");
        q.enqueue(jobs(50));
        completeAll(q, fetchAll(q, 50));
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xlen("sluice:jobs")).isZero();
        }
    }

    @Test
    void consumerWithPendingEntriesIsNeverRemoved() {
        StreamJobQueue holder = (StreamJobQueue) queue("holder");
        StreamJobQueue idle = (StreamJobQueue) queue("idle");
        holder.enqueue(jobs(1));
        completeAll(idle, fetchAll(idle, 1));
        holder.enqueue(jobs(3));
        fetchAll(holder, 3);
        StreamJobQueue janitor = (StreamJobQueue) queue("janitor");
        assertThat(janitor.removeIdleConsumers(0)).isEqualTo(1);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xinfoConsumers2("sluice:jobs", "sluice")).extracting(c -> c.getName())
                    .contains("holder").doesNotContain("idle");
        }
    }

    @Test
    void deadLettersOlderThanTheRetentionAreTrimmed() {
        JobQueue q = queue("node-a", "queue.dead_letter_retention_days", "1");
        long old = System.currentTimeMillis() - Duration.ofDays(2).toMillis();
        try (Jedis j = redis.server().newJedis()) {
            j.xadd("sluice:dead", new StreamEntryID(old, 0), Map.of("key", "ancient", "dead.reason", "old"));
            j.xadd("sluice:dead", StreamEntryID.NEW_ENTRY, Map.of("key", "recent", "dead.reason", "new"));
        }
        q.trimDeadLetters();
        assertThat(q.deadLetters(10)).extracting(e -> e.original().get("key")).containsExactly("recent");
    }

    @Test
    void producersEntriesWithOnlyAKeyAreJobs() {
        JobQueue q = queue("node-a");
        try (Jedis j = redis.server().newJedis()) {
            j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "user-1"));
        }
        Delivery d = fetchAll(q, 1).getFirst();
        assertThat(d.job().id()).isEqualTo("hub-fetch:user-1");
        assertThat(q.stats().pendingByConsumer()).containsEntry("node-a", 1L);
        assertThat(List.of(d)).hasSize(1);
    }

    @Test
    void oldestWaitingAgeReflectsTheFirstUndeliveredEntry() {
        JobQueue q = queue("node-a");
        long old = System.currentTimeMillis() - 5_000;
        try (Jedis j = redis.server().newJedis()) {
            j.xadd("sluice:jobs", new StreamEntryID(old, 0), Map.of("key", "waiting"));
        }
        assertThat(q.stats().oldestWaitingAgeMs()).isBetween(4_500L, 60_000L);
        fetchAll(q, 1);
        assertThat(q.stats().oldestWaitingAgeMs()).isZero();
    }

    /**
     * Redis restarted from a snapshot taken before an entry was delivered: the entry is back in the stream as never
     * delivered, and whatever the node wrote after the snapshot (the job's result) is gone. The node that ran it then
     * acknowledges it: the entry must stay, to be delivered again and run once more, not be deleted with no result.
     */
    @Test
    void anAckAfterRedisWentBackToASnapshotFromBeforeTheDeliveryLeavesTheEntryToBeDeliveredAgain() {
        assumeTrue(redis.server().mode() != RedisServer.Mode.EXTERNAL, "an external server cannot be restarted");
        JobQueue a = queue("node-a");
        a.enqueue(jobs(1));
        try (Jedis j = redis.server().newJedis()) {
            j.save();
        }
        Delivery d = fetchAll(a, 1).getFirst();
        redis.server().kill();
        redis.server().start();
        try {
            // The node's pooled connections died with the server: applied again until Redis takes it, as the
            // completer does.
            await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
                completeAll(a, List.of(d));
                return true;
            });
            JobQueue b = queue("node-b");
            assertThat(b.fetch(10, Duration.ofMillis(200))).as("entries delivered again after the restart")
                    .extracting(x -> x.job().key()).containsExactly(d.job().key());
        } finally {
            // No later restart of this server may bring the snapshot back.
            try (Jedis j = redis.server().newJedis()) {
                j.flushAll();
                j.save();
            }
        }
    }
}
