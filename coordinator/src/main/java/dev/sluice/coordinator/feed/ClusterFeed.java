package dev.sluice.coordinator.feed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.common.event.EventPayload.QueueSample;
import dev.sluice.adminhttp.Responses;
import dev.sluice.coordinator.ingest.IngestStats;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.Counts;
import dev.sluice.coordinator.state.NodeView;
import dev.sluice.coordinator.state.PoolView;
import dev.sluice.coordinator.state.QueueView;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * {@code GET /api/cluster}: the fleet as the coordinator sees it, as JSON: every node (alive, last seen, pool,
 * breakers, limiter, its rates), the newest queue sample, cluster-wide rates over the rate window, and what the
 * events consumer took in, skipped and rejected. {@code asOf} is the time liveness and rates are judged at: about now while
 * the events are read as they come, earlier while Kafka is unreachable.
 */
public final class ClusterFeed {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Supplier<ClusterSnapshot> snapshots;
    private final IngestStats ingest;
    private final Duration rateWindow;

    /**
     * @param snapshots   the cluster now (as the alert rules see it)
     * @param rateWindow  the window of the rates shown
     */
    public ClusterFeed(Supplier<ClusterSnapshot> snapshots, IngestStats ingest, Duration rateWindow) {
        this.snapshots = snapshots;
        this.ingest = ingest;
        this.rateWindow = rateWindow;
    }

    public void serve(HttpExchange exchange) throws IOException {
        Responses.json(exchange, 200, view(snapshots.get()));
    }

    public ObjectNode view(ClusterSnapshot cluster) {
        ObjectNode root = JSON.createObjectNode();
        root.put("at", cluster.at().toString());
        root.put("asOf", cluster.asOf().toString());
        root.put("nodesKnown", cluster.nodes().size());
        root.put("nodesAlive", cluster.aliveNodes().size());
        var nodes = root.putArray("nodes");
        Instant from = cluster.asOf().minus(rateWindow);
        for (NodeView node : cluster.nodes()) {
            ObjectNode n = nodes.addObject();
            n.put("id", node.id());
            n.put("alive", node.alive());
            n.put("stopped", node.stopped());
            if (node.stopReason() != null) {
                n.put("stopReason", node.stopReason());
            }
            n.put("firstSeen", node.firstSeen().toString());
            n.put("lastSeen", node.lastSeen().toString());
            n.put("heartbeatIntervalMs", node.heartbeatInterval().toMillis());
            n.put("restarts", node.restarts());
            if (node.started() != null) {
                n.put("queueMode", node.started().queueMode());
                n.put("concurrency", node.started().concurrency());
            }
            if (node.pool() != null) {
                n.set("pool", pool(node.pool()));
            }
            ObjectNode breakers = n.putObject("breakers");
            node.breakers().forEach((name, b) -> {
                ObjectNode o = breakers.putObject(name);
                o.put("state", b.state());
                o.put("since", b.since().toString());
                if (b.notClosedSince() != null) {
                    o.put("notClosedSince", b.notClosedSince().toString());
                }
            });
            if (node.limiter() != null) {
                ObjectNode l = n.putObject("limiter");
                l.put("degraded", node.limiter().degraded());
                l.put("state", node.limiter().state());
                l.put("reason", node.limiter().reason());
                l.put("policy", node.limiter().policy());
                l.put("since", node.limiter().since().toString());
            }
            if (node.fleet() != null) {
                ObjectNode f = n.putObject("fleet");
                if (node.fleet().permitsHeld() >= 0) {
                    f.put("permitsHeld", node.fleet().permitsHeld());
                }
                f.put("jobsInFlight", node.fleet().jobsInFlight());
            }
            n.set("rates", rates(node.totalsAfter(from)));
        }
        cluster.latestQueue().ifPresent(q -> root.set("queue", queue(q)));
        root.set("rates", rates(cluster.totals(rateWindow)));
        ObjectNode in = root.putObject("ingest");
        ObjectNode consumed = in.putObject("consumed");
        ingest.consumedByType().forEach(consumed::put);
        ObjectNode skipped = in.putObject("skipped");
        ingest.skippedByReason().forEach(skipped::put);
        ObjectNode rejected = in.putObject("rejected");
        ingest.rejectedByReason().forEach(rejected::put);
        in.put("consumerRestarts", ingest.consumerRestarts());
        return root;
    }

    private static ObjectNode pool(PoolView view) {
        PoolSample p = view.sample();
        ObjectNode o = JSON.createObjectNode();
        o.put("max", p.max());
        o.put("active", p.active());
        o.put("idle", p.idle());
        o.put("waiters", p.waiters());
        o.put("meanBorrowWaitMs", p.meanBorrowWaitMs());
        o.put("availability", p.availability());
        o.put("usage", p.usage());
        o.put("underPressure", view.underPressure());
        o.put("sampledAt", view.sampledAt().toString());
        return o;
    }

    private static ObjectNode queue(QueueView view) {
        QueueSample q = view.sample();
        ObjectNode o = JSON.createObjectNode();
        o.put("waiting", q.waiting());
        o.put("pending", q.pending());
        o.put("delayed", q.delayed());
        o.put("dead", q.dead());
        o.put("oldestWaitingAgeMs", q.oldestWaitingAgeMs());
        o.put("node", view.node());
        o.put("sampledAt", view.sampledAt().toString());
        return o;
    }

    private ObjectNode rates(Counts c) {
        double secs = Math.max(1, rateWindow.toSeconds());
        ObjectNode o = JSON.createObjectNode();
        o.put("windowSecs", rateWindow.toSeconds());
        o.put("jobsDonePerSec", c.jobsDone() / secs);
        o.put("jobsFailedPerSec", c.jobsFailed() / secs);
        o.put("hubRequestsPerSec", c.hubRequests() / secs);
        o.put("redisOperationsPerSec", c.redisOperations() / secs);
        o.put("deadLettered", c.jobsDeadLettered());
        o.put("eventsDropped", c.eventsDropped());
        o.put("connectionTimeoutRate", c.connectionTimeoutRate());
        o.put("redisErrorRate", c.redisErrorRate());
        o.put("hubErrorRate", c.hubErrorRate());
        o.put("hubRateLimitedRate", c.hubRateLimitedRate());
        return o;
    }
}
