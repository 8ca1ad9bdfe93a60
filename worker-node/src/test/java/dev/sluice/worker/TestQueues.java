package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.QueueStats;
import dev.sluice.worker.queue.StreamJobQueue;

import java.time.Clock;

/** Looks at the queue from outside any node. */
public final class TestQueues {
    private TestQueues() {
    }

    public static QueueStats stats(String redisUrl) {
        SluiceConfig config = TestConfigs.config(redisUrl, "node.id", "observer");
        try (RedisConnections connections = new RedisConnections(config.redis(), "observer");
             StreamJobQueue queue = new StreamJobQueue(config.queue(), "observer", connections, Clock.systemUTC())) {
            return queue.stats();
        }
    }
}
