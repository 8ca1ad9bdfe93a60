package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.control.Backfills;
import dev.sluice.control.FleetLimits;
import dev.sluice.control.FleetRecord;
import dev.sluice.control.FleetState;
import dev.sluice.control.Pause;
import dev.sluice.adminhttp.Responses;
import dev.sluice.coordinator.feed.AlertFeed;
import dev.sluice.coordinator.feed.ClusterFeed;
import dev.sluice.coordinator.state.BreakerView;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.Counts;
import dev.sluice.coordinator.state.NodeView;
import dev.sluice.coordinator.state.QueueView;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code GET /api/dashboard}: everything the dashboard shows, as one JSON snapshot (the page paints from it, then
 * {@code /api/dashboard/stream} sends a new one every 2 s): the "why" line, the backfill (queue counts, rates, the
 * time to drain), the nodes, the fleet's limits and pause from Redis, the alerts, the audit, the last 15 minutes.
 */
public final class DashboardFeed {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The window of the net drain rate behind the time to drain. */
    static final Duration DRAIN_WINDOW = Duration.ofMinutes(1);
    /** The newest backfills shown. */
    static final int BACKFILLS_SHOWN = 10;

    private final Supplier<ClusterSnapshot> snapshots;
    private final ClusterFeed cluster;
    private final AlertFeed alerts;
    private final FleetControl fleet;
    private final History history = new History();
    private final BackfillProgress progress = new BackfillProgress(DRAIN_WINDOW);
    private final Duration rateWindow;
    private final boolean operationsOn;
    private final Clock clock;

    /**
     * @param fleet        the fleet's record in Redis
     * @param operationsOn whether tokens are configured (the page then offers pause, resume and limits)
     */
    public DashboardFeed(Supplier<ClusterSnapshot> snapshots, ClusterFeed cluster, AlertFeed alerts, FleetControl fleet,
                         Duration rateWindow, boolean operationsOn, Clock clock) {
        this.snapshots = snapshots;
        this.cluster = cluster;
        this.alerts = alerts;
        this.fleet = fleet;
        this.rateWindow = rateWindow;
        this.operationsOn = operationsOn;
        this.clock = clock;
    }

    public void serve(HttpExchange exchange) throws IOException {
        Responses.json(exchange, 200, view());
    }

    /** Takes a sample for the charts and a reading of the backfills' counts (called every few seconds). */
    public void sample() {
        try {
            progress.observe(fleet.backfills(BACKFILLS_SHOWN));
        } catch (FleetControl.RedisUnavailable e) {
            // Said once by FleetControl; the backfills' rates resume with Redis.
        }
        ClusterSnapshot c = snapshots.get();
        Counts totals = c.totals(rateWindow);
        double secs = Math.max(1, rateWindow.toSeconds());
        Map<String, Double> byNode = new LinkedHashMap<>();
        Map<String, Double> pool = new LinkedHashMap<>();
        Instant from = c.asOf().minus(rateWindow);
        for (NodeView n : c.aliveNodes()) {
            byNode.put(n.id(), n.totalsAfter(from).jobsDone() / secs);
            if (n.pool() != null) {
                pool.put(n.id(), n.pool().sample().usage());
            }
        }
        var q = c.latestQueueOfLiveNodes().map(QueueView::sample).orElse(null);
        history.add(new History.Sample(clock.instant(), totals.jobsDone() / secs, totals.hubRequests() / secs,
                q == null ? 0 : q.waiting(), q == null ? 0 : q.pending(), q == null ? 0 : q.delayed(),
                q == null ? 0 : q.dead(), byNode, pool));
    }

    /** The snapshot. */
    public ObjectNode view() {
        ClusterSnapshot c = snapshots.get();
        ObjectNode root = JSON.createObjectNode();
        root.put("at", clock.instant().toString());
        root.put("operations", operationsOn);
        ObjectNode clusterView = cluster.view(c);
        root.set("cluster", clusterView);

        FleetState state = null;
        List<FleetRecord.AuditEntry> audit = List.of();
        Backfills.Reading backfills = null;
        ObjectNode fleetView = root.putObject("fleet");
        fleetView.put("record", fleet.key());
        try {
            FleetControl.Read read = fleet.read(20, BACKFILLS_SHOWN);
            state = read.state();
            audit = read.audit();
            backfills = read.backfills();
            progress.observe(backfills);
        } catch (FleetControl.RedisUnavailable | FleetRecord.BadRecord e) {
            fleetView.put("problem", e.getMessage());
        }
        FleetLimits limits = state == null ? null : state.limits();
        Pause pause = state == null ? Pause.NEVER : state.pause();
        if (state != null) {
            fleetView.put("version", state.version());
            if (limits != null) {
                fleetView.set("limits", JSON.valueToTree(limits.toMap()));
            }
        }
        fleetView.set("pause", JSON.valueToTree(pause.toMap()));
        ArrayNode auditView = fleetView.putArray("audit");
        audit.forEach(a -> auditView.add(JSON.valueToTree(a.toMap())));

        Counts totals = c.totals(rateWindow);
        double secs = Math.max(1, rateWindow.toSeconds());
        double jobsPerSec = totals.jobsDone() / secs;
        double hubPerSec = totals.hubRequests() / secs;
        var q = c.latestQueueOfLiveNodes().map(QueueView::sample).orElse(null);

        ObjectNode backfill = root.putObject("backfill");
        if (q != null) {
            backfill.put("waiting", q.waiting());
            backfill.put("running", q.pending());
            backfill.put("delayed", q.delayed());
            backfill.put("deadLettered", q.dead());
            backfill.put("oldestWaitingAgeMs", q.oldestWaitingAgeMs());
        }
        backfill.put("doneInWindow", totals.jobsDone());
        backfill.put("jobsPerSec", jobsPerSec);
        backfill.put("hubRequestsPerSec", hubPerSec);
        double net = history.netDrainPerSec(DRAIN_WINDOW);
        backfill.put("netDrainPerSec", Double.isNaN(net) ? null : net);
        long left = q == null ? 0 : q.waiting() + q.pending() + q.delayed();
        double rate = !Double.isNaN(net) && net > 0 ? net : jobsPerSec;
        if (q != null && left == 0) {
            backfill.put("drainEstimate", "done: nothing left");
        } else if (q != null && rate > 0) {
            long etaSecs = (long) Math.ceil(left / rate);
            backfill.put("etaSecs", etaSecs);
            backfill.put("drainEstimate", "about " + human(Duration.ofSeconds(etaSecs)) + " at "
                    + String.format(java.util.Locale.ROOT, "%.1f", rate) + " jobs/s");
        } else {
            backfill.put("drainEstimate", q == null ? "not known yet: no queue sample from a live node"
                    : "not draining: no job done in the last " + rateWindow.toSeconds() + " s");
        }
        if (limits != null) {
            backfill.put("limitUse", hubPerSec / limits.maxPerSecond());
        }
        ArrayNode backfillsView = root.putArray("backfills");
        if (backfills != null) {
            for (Backfills.Backfill bf : backfills.backfills()) {
                BackfillProgress.Estimate e = progress.estimate(bf);
                ObjectNode o = backfillsView.addObject();
                o.put("id", bf.id());
                o.put("state", bf.state());
                o.put("by", bf.by());
                o.put("startedAt", Instant.ofEpochMilli(bf.startedAtMs()).toString());
                o.put("total", bf.total());
                o.put("done", bf.done());
                o.put("dead", bf.dead());
                o.put("replayed", bf.replayed());
                o.put("uncertain", bf.uncertain());
                o.put("left", bf.left());
                o.put("finished", bf.finished());
                o.put("jobsPerSec", Double.isNaN(e.jobsPerSec()) ? null : e.jobsPerSec());
                o.put("etaSecs", e.etaSecs());
                o.put("estimate", e.text());
            }
        }

        List<String> breakerOpen = new ArrayList<>();
        Instant openSince = null;
        List<String> degraded = new ArrayList<>();
        String limiterReason = null;
        List<String> pressure = new ArrayList<>();
        for (NodeView n : c.aliveNodes()) {
            for (BreakerView b : n.breakers().values()) {
                if (b.state().equalsIgnoreCase("OPEN")) {
                    breakerOpen.add(n.id());
                    openSince = openSince == null || b.since().isBefore(openSince) ? b.since() : openSince;
                    break;
                }
            }
            if (n.limiter() != null && n.limiter().degraded()) {
                degraded.add(n.id());
                limiterReason = n.limiter().reason();
            }
            if (n.pool() != null && n.pool().underPressure()) {
                pressure.add(n.id());
            }
        }
        WhyLine.Why why = WhyLine.of(new WhyLine.Facts(c.nodes().size(), c.aliveNodes().size(), pause, breakerOpen,
                openSince, totals.hubRateLimitedRate(), degraded, limiterReason, pressure,
                q == null ? 0 : q.waiting(), q == null ? 0 : q.pending(), q == null ? 0 : q.delayed(), jobsPerSec,
                hubPerSec, limits));
        ObjectNode whyView = root.putObject("why");
        whyView.put("kind", why.kind());
        whyView.put("text", why.text());

        root.set("alerts", alerts.view(null));
        ArrayNode hist = root.putArray("history");
        for (History.Sample s : history.samples()) {
            ObjectNode o = hist.addObject();
            o.put("at", s.at().toEpochMilli());
            o.put("jobsPerSec", s.jobsPerSec());
            o.put("hubRequestsPerSec", s.hubRequestsPerSec());
            o.put("waiting", s.waiting());
            o.put("running", s.pending());
            o.put("delayed", s.delayed());
            o.put("deadLettered", s.dead());
            o.set("jobsPerSecByNode", JSON.valueToTree(s.jobsPerSecByNode()));
            o.set("poolUsageByNode", JSON.valueToTree(s.poolUsageByNode()));
        }
        return root;
    }

    static String human(Duration d) {
        long s = d.toSeconds();
        if (s < 90) {
            return s + " s";
        }
        if (s < 90 * 60) {
            return Math.round(s / 60.0) + " min";
        }
        if (s < 48 * 3600) {
            return String.format(java.util.Locale.ROOT, "%.1f h", s / 3600.0);
        }
        return String.format(java.util.Locale.ROOT, "%.1f days", s / 86400.0);
    }
}
