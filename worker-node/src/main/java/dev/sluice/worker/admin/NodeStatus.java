package dev.sluice.worker.admin;

import dev.sluice.worker.limits.fleet.LimiterSnapshot;
import dev.sluice.worker.pool.PoolHealth;
import dev.sluice.worker.queue.QueueStats;

import java.util.List;
import java.util.Map;

/**
 * What {@code GET /api/status} shows about a node. Holds no secret: the configuration is the redacted view.
 *
 * @param nodeId            the node's id (its consumer name)
 * @param running           true between the end of start and the beginning of stop
 * @param queue             where the node takes its jobs from
 * @param pool              the latest sample of the shared Redis pool
 * @param underPressure     true while the pool's availability is below the threshold
 * @param pressureThreshold the availability below which the pool is under pressure
 * @param inFlight          jobs this node is working on
 * @param pausedBy          what keeps the fetcher paused now (empty when it runs)
 * @param queueStats        the queue's statistics as last sampled, or null before the first sample
 * @param queueStatsAt      when they were sampled (ISO-8601), or null
 * @param cluster           the node's view of its Hazelcast cluster, or null for a node without one
 * @param config            the effective configuration with secrets hidden, by section and file key name
 */
public record NodeStatus(String nodeId, boolean running, Queue queue, Pool pool, boolean underPressure,
                         double pressureThreshold, int inFlight, List<String> pausedBy, QueueStats queueStats,
                         String queueStatsAt, Cluster cluster, Map<String, Map<String, Object>> config) {

    /**
     * @param mode  stream or list
     * @param key   the stream or list the jobs wait in
     * @param group the consumer group (stream mode)
     */
    public record Queue(String mode, String key, String group) {
    }

    /**
     * @param name           the Hazelcast cluster name
     * @param members        members this node sees, itself included
     * @param nodes          their node ids, sorted
     * @param majority       whether this side holds a majority of the last known fleet (the fleet limits work)
     * @param lastKnownSize  the fleet size the majority is counted against
     * @param partitionsSafe whether every partition's backups were in sync at the last sample
     * @param limits         the fleet limiter's state, or null when the node keeps the limits alone
     * @param fleetLimits    the fleet's live limits this node follows, where they come from (the fleet's record in
     *                       Redis, its version and who set it) and this node's file's values; null without a fleet
     *                       limiter
     */
    public record Cluster(String name, int members, List<String> nodes, boolean majority, int lastKnownSize,
                          boolean partitionsSafe, LimiterSnapshot limits, Map<String, Object> fleetLimits) {
    }

    /** A {@link PoolHealth} sample with its availability spelled out. */
    public record Pool(int max, int active, int idle, int waiters, double meanBorrowWaitMs, double availability,
                       long borrowTimeouts, String sampledAt) {

        public static Pool of(PoolHealth h) {
            return new Pool(h.max(), h.active(), h.idle(), h.waiters(), h.meanBorrowWaitMs(), h.availability(),
                    h.borrowTimeouts(), h.sampledAt() == null ? null : h.sampledAt().toString());
        }
    }
}
