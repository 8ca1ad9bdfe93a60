package dev.sluice.worker.queue;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class ListJobQueueTest extends JobQueueContract {

    @Override
    protected String mode() {
        return "list";
    }

    @Override
    protected JobQueue create(SluiceConfig config, RedisConnections connections) {
        return new ListJobQueue(config.queue(), config.node().id(), connections, Clock.systemUTC());
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
        }
    }
}
