package dev.sluice.worker;

import dev.sluice.common.config.QueueConfig;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.list.ListJobQueue;
import dev.sluice.worker.queue.stream.StreamJobQueue;
import dev.sluice.worker.pool.RedisConnections;

import java.time.Clock;
import java.time.Duration;

/** Makes the queue adapter that {@code queue.mode} names. */
public final class JobQueues {
    private JobQueues() {
    }

    /**
     * @param nodeId the consumer (stream mode) or the owner of the processing list (list mode)
     * @param lease  how long another node's liveness record may stand still before list mode takes its jobs over
     */
    public static JobQueue create(QueueConfig config, String nodeId, RedisConnections redis, Clock clock, Duration lease) {
        return switch (config.mode()) {
            case STREAM -> new StreamJobQueue(config, nodeId, redis, clock);
            case LIST -> new ListJobQueue(config, nodeId, redis, clock, new RecordWatch(lease, System::nanoTime));
        };
    }

    /**
     * How often a node looks for dead nodes' jobs: a few looks within what decides a node dead, its jobs' idle time
     * (stream mode) or its liveness record's lease (list mode); at least every 5 s.
     */
    public static Duration reclaimEvery(QueueConfig config, Duration lease) {
        return switch (config.mode()) {
            case STREAM -> Duration.ofMillis(Math.min(5_000, config.visibilityTimeoutSecs() * 500L));
            case LIST -> Duration.ofMillis(Math.min(5_000, lease.toMillis() / 3));
        };
    }
}
