package dev.sluice.worker;

import dev.sluice.common.config.ConfigView;
import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.config.QueueMode;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.admin.NodeStatus;
import dev.sluice.worker.admin.NodeStatusSource;
import dev.sluice.worker.admin.Readiness;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.exec.Maintenance;
import dev.sluice.worker.pool.RedisRefusals;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.fleet.LimiterSnapshot;
import dev.sluice.worker.queue.QueueStats;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Reports on a running {@link WorkerNode} to the admin server, which knows only {@link NodeStatusSource}. The node is ready while it runs and its queue statistics, refreshed
 * every 2 s from Redis, are younger than {@code maxStatsAge}: stale statistics mean Redis cannot be reached.
 */
public final class WorkerNodeStatus implements NodeStatusSource {

    /** Five missed refreshes. */
    public static final Duration DEFAULT_MAX_STATS_AGE = Duration.ofSeconds(10);

    private final WorkerNode node;
    private final Clock clock;
    private final Duration maxStatsAge;
    private final Map<String, Map<String, Object>> config;

    public WorkerNodeStatus(WorkerNode node) {
        this(node, node.clock(), DEFAULT_MAX_STATS_AGE);
    }

    public WorkerNodeStatus(WorkerNode node, Clock clock, Duration maxStatsAge) {
        this.node = node;
        this.clock = clock;
        this.maxStatsAge = maxStatsAge;
        this.config = ConfigView.redacted(node.config());
    }

    @Override
    public List<String> livenessProblems() {
        return node.loopWatch().problems();
    }

    @Override
    public Readiness readiness() {
        List<String> notLive = node.loopWatch().problems();
        if (!notLive.isEmpty()) {
            return Readiness.notReady("not live: " + String.join("; ", notLive));
        }
        if (node.record().lost()) {
            return Readiness.notReady("another process took node id " + node.config().node().id()
                    + " over (this one's liveness record stood still for a lease); this node takes no new work");
        }
        RedisRefusals refusals = node.redis().refusals();
        if (refusals.refusing()) {
            return Readiness.notReady("Redis refuses writes (" + refusals.lastRefusal() + "); no new work is taken "
                    + "until it accepts them");
        }
        if (!node.isRunning()) {
            return Readiness.notReady("the worker is not running (starting, draining or stopped)");
        }
        Maintenance maintenance = node.maintenance();
        Instant at = maintenance.lastStatsAt();
        String failure = maintenance.lastStatsFailure();
        String because = failure == null ? "" : "; last attempt failed: " + failure;
        if (at == null) {
            return Readiness.notReady("no queue statistics from Redis yet" + because);
        }
        Duration age = Duration.between(at, clock.instant());
        if (age.compareTo(maxStatsAge) > 0) {
            return Readiness.notReady("queue statistics are " + age.toMillis() + " ms old (limit "
                    + maxStatsAge.toMillis() + " ms): Redis is not answering" + because);
        }
        String refused = node.limiter().refusesBecause();
        if (refused != null) {
            return Readiness.notReady(refused + "; this node resumes by itself when that ends");
        }
        return Readiness.readyNow();
    }

    /**
     * {@inheritDoc}
     *
     * <p>Not cheap: in a fleet it reads the permit table from its owner (a store call, see
     * {@link FleetHubLimiter#snapshot()}). {@link AdminServer} asks for it at most once a second.
     */
    @Override
    public NodeStatus status() {
        SluiceConfig c = node.config();
        QueueConfig q = c.queue();
        boolean list = q.mode() == QueueMode.LIST;
        List<String> paused = new ArrayList<>(node.worker().pausedBy());
        Collections.sort(paused);
        QueueStats stats = node.maintenance().lastStats();
        Instant statsAt = node.maintenance().lastStatsAt();
        return new NodeStatus(
                c.node().id(),
                node.isRunning(),
                new NodeStatus.Queue(q.mode().id(), q.key(), list ? null : q.group()),
                NodeStatus.Pool.of(node.poolMonitor().poolHealth()),
                node.poolMonitor().isUnderPressure(),
                node.poolMonitor().threshold(),
                node.worker().inFlightCount(),
                List.copyOf(paused),
                stats,
                statsAt == null ? null : statsAt.toString(),
                cluster(),
                config);
    }

    private NodeStatus.Cluster cluster() {
        ClusterMember member = node.cluster();
        if (member == null) {
            return null;
        }
        List<String> nodes = member.memberNodeIds();
        LimiterSnapshot limits = node.fleetLimiter() == null ? null : node.fleetLimiter().snapshot();
        return new NodeStatus.Cluster(member.clusterName(), nodes.size(), nodes, member.hasMajority(),
                member.lastKnownSize(), member.partitionsSafe(), limits,
                node.limitsFollower() == null ? null : node.limitsFollower().status());
    }
}
