package dev.sluice.coordinator.dashboard;

import dev.sluice.control.FleetLimits;
import dev.sluice.control.Pause;

import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * The one line at the top of the dashboard that says why the backfill is (not) moving, from the live state. The
 * first cause that holds wins, in this order: no live node, paused, Hub breaker open, the Hub answering 429, the
 * fleet limiter degraded, Redis pool pressure, nothing left to do, the fleet at its rate limit, else draining.
 */
public final class WhyLine {
    private WhyLine() {
    }

    /** What the line is judged from. */
    public record Facts(int nodesKnown, int nodesAlive, Pause pause, List<String> breakerOpenOn, Instant breakerOpenSince,
                        double hubRateLimitedRate, List<String> limiterDegradedOn, String limiterReason,
                        List<String> poolPressureOn, long waiting, long pending, long delayed, double jobsPerSec,
                        double hubRequestsPerSec, FleetLimits limits) {
    }

    /** A cause: a short kind for the page's styling and tests, and the sentence. */
    public record Why(String kind, String text) {
    }

    /** The share of the rate limit above which the fleet counts as rate-limited. */
    static final double AT_LIMIT = 0.85;

    public static Why of(Facts f) {
        if (f.nodesAlive() == 0) {
            return new Why("no-live-node", f.nodesKnown() == 0 ? "no live node: no node has reported yet"
                    : "no live node: " + f.nodesKnown() + " known, none heard from within its heartbeats");
        }
        if (f.pause() != null && f.pause().paused()) {
            return new Why("paused", "paused by " + f.pause().by() + " since " + Instant.ofEpochMilli(f.pause().atMs())
                    + (f.pause().reason().isEmpty() ? "" : " (" + f.pause().reason() + ")"));
        }
        if (!f.breakerOpenOn().isEmpty()) {
            return new Why("breaker-open", "Hub breaker open on " + nodes(f.breakerOpenOn())
                    + (f.breakerOpenSince() == null ? "" : " since " + f.breakerOpenSince())
                    + ": calls to the Hub are held until a trial call succeeds");
        }
        if (f.hubRateLimitedRate() > 0) {
            return new Why("hub-429", String.format(Locale.ROOT, "the Hub answers 429 (%.0f%% of calls): the fleet "
                    + "pauses for its Retry-After", f.hubRateLimitedRate() * 100));
        }
        if (!f.limiterDegradedOn().isEmpty()) {
            return new Why("limiter-degraded", "fleet limiter degraded on " + nodes(f.limiterDegradedOn())
                    + (f.limiterReason() == null || f.limiterReason().isEmpty() ? "" : ": " + f.limiterReason()));
        }
        if (!f.poolPressureOn().isEmpty()) {
            return new Why("pool-pressure", "Redis pool pressure on " + nodes(f.poolPressureOn())
                    + ": those nodes fetch less until connections are free");
        }
        if (f.waiting() == 0 && f.pending() == 0 && f.delayed() == 0) {
            return new Why("idle", "idle: no job waiting, running or delayed");
        }
        if (f.limits() != null && f.hubRequestsPerSec() >= AT_LIMIT * f.limits().maxPerSecond()) {
            return new Why("rate-limited", String.format(Locale.ROOT,
                    "fleet rate-limited at %.0f%% of the limit (%.0f of %d Hub calls per second); draining at %.1f "
                            + "jobs/s", 100 * f.hubRequestsPerSec() / f.limits().maxPerSecond(), f.hubRequestsPerSec(),
                    f.limits().maxPerSecond(), f.jobsPerSec()));
        }
        if (f.waiting() == 0 && f.pending() == 0) {
            return new Why("delayed-only", f.delayed() + " jobs wait for their retry; nothing else to do");
        }
        return new Why("draining", String.format(Locale.ROOT, "draining at %.1f jobs/s", f.jobsPerSec()));
    }

    private static String nodes(List<String> ids) {
        if (ids.size() <= 5) {
            return (ids.size() == 1 ? "node " : "nodes ") + String.join(", ", ids);
        }
        return ids.size() + " nodes (" + String.join(", ", ids.subList(0, 5)) + ", ...)";
    }
}
