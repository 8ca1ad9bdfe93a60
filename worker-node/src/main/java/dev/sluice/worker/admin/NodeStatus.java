package dev.sluice.worker.admin;

import dev.sluice.worker.limits.FleetHubLimiter;
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
 * @param config            the effective configuration with secrets hidden, by section and file key name
 * @param cluster           the embedded Hazelcast member and the fleet limits, or null for a node without a cluster
 */
public record NodeStatus(String nodeId, boolean running, Queue queue, Pool pool, boolean underPressure,
                         double pressureThreshold, int inFlight, List<String> pausedBy, QueueStats queueStats,
                         String queueStatsAt, Map<String, Map<String, Object>> config, Cluster cluster) {

    /**
     * @param members          members this one sees now
     * @param lastKnownMembers the fleet size the majority is counted against
     * @param majority         whether this member's side holds a majority (the limits can be used)
     * @param partitionsSafe   whether every partition has its backups (a member may leave without data loss)
     * @param limits           the fleet limiter's state
     */
    public record Cluster(int members, int lastKnownMembers, boolean majority, boolean partitionsSafe,
                          FleetHubLimiter.Snapshot limits) {
    }

    /**
     * @param mode  stream or list
     * @param key   the stream or list the jobs wait in
     * @param group the consumer group (stream mode)
     */
    public record Queue(String mode, String key, String group) {
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
