package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.list.ListJobQueue;
import dev.sluice.worker.queue.QueueStats;
import dev.sluice.worker.queue.stream.StreamJobQueue;

import java.time.Clock;
import java.time.Duration;

/** Looks at the queue from outside any node. */
public final class TestQueues {
    private TestQueues() {
    }

    public static QueueStats stats(String redisUrl) {
        return stats(redisUrl, "stream");
    }

    /** The stats of the queue in {@code mode} ({@code stream} or {@code list}). */
    public static QueueStats stats(String redisUrl, String mode) {
        SluiceConfig config = TestConfigs.config(redisUrl, "node.id", "observer", "queue.mode", mode);
        try (RedisConnections connections = new RedisConnections(config.redis(), "observer");
             JobQueue queue = mode.equals("list")
                     ? new ListJobQueue(config.queue(), "observer", connections, Clock.systemUTC(),
                             new RecordWatch(Duration.ofMillis(config.node().leaseMs()), System::nanoTime))
                     : new StreamJobQueue(config.queue(), "observer", connections, Clock.systemUTC())) {
            return queue.stats();
        }
    }
}
