package dev.sluice.worker.cli;

import dev.sluice.common.config.NodeConfig;
import dev.sluice.common.config.QueueMode;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.JobQueues;

import java.time.Clock;
import java.time.Duration;

/**
 * The queue of the configuration, opened for a command without starting a worker: its own connections and a
 * queue adapter for {@code queue.mode}. It never fetches, so it never joins the consumer group as a consumer.
 */
final class QueueSession implements AutoCloseable {

    private final SluiceConfig config;
    private final RedisConnections redis;
    private final JobQueue queue;

    QueueSession(SluiceConfig config, Clock clock) {
        this.config = config;
        // Its own id, never the configured node's: in list mode closing the adapter deregisters its id.
        String id = "cli-" + NodeConfig.defaultId();
        this.redis = new RedisConnections(config.redis(), id);
        this.queue = JobQueues.create(config.queue(), id, redis, clock,
                Duration.ofMillis(config.node().leaseMs()));
    }

    RedisConnections redis() {
        return redis;
    }

    JobQueue queue() {
        return queue;
    }

    boolean isList() {
        return config.queue().mode() == QueueMode.LIST;
    }

    /** {@code stream sluice:jobs} or {@code list sluice:queue}. */
    String describe() {
        return isList() ? "list " + config.queue().list() : "stream " + config.queue().stream();
    }

    @Override
    public void close() {
        try {
            queue.close();
        } finally {
            redis.close();
        }
    }
}
