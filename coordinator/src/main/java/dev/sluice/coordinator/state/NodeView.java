package dev.sluice.coordinator.state;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * One node as the coordinator knows it at a snapshot's time. Immutable.
 *
 * @param id                 node id
 * @param alive              not stopped and heard from within {@code missed heartbeats x heartbeat interval}
 * @param stopped            it said it was stopping (SIGTERM, drain) and has not started again
 * @param stopReason         what it said when stopping
 * @param firstSeen          first event seen from it
 * @param lastSeen           last event seen from it
 * @param heartbeatInterval  its announced heartbeat interval (or the configured default)
 * @param downSince          when it counts as down if nothing more arrives: last seen plus the missed-heartbeat
 *                           allowance (plus its silence during an {@link EventsGap}); null once stopped
 * @param restarts           restarts noticed (node-started events, counters or sequence numbers going down)
 * @param started            what it announced at its start, if seen
 * @param pool               its last pool sample, if any
 * @param breakers           its breakers by name
 * @param limiter            its limiter, if reported
 * @param queue              its last queue sample, if any
 * @param poolUsage          pool usage samples within the state's history, oldest first
 * @param deltas             counter deltas within the state's history, oldest first
 * @param fleet              what it held of the fleet's limits at its last heartbeat (null: not reported)
 */
public record NodeView(String id, boolean alive, boolean stopped, String stopReason, Instant firstSeen,
                       Instant lastSeen, Duration heartbeatInterval, Instant downSince, int restarts, Started started,
                       PoolView pool, Map<String, BreakerView> breakers, LimiterView limiter, QueueView queue,
                       List<UsagePoint> poolUsage, List<DeltaSample> deltas,
                       dev.sluice.common.event.EventPayload.FleetSample fleet) {

    /** What a node announced when it started. */
    public record Started(String queueMode, int concurrency, int poolSize) {
    }

    /** A pool usage ({@code active / max}) observed at a time. */
    public record UsagePoint(Instant at, double usage) {
    }

    /** What a node's counters rose by between its previous heartbeat and the one observed at {@code at}. */
    public record DeltaSample(Instant at, Counts counts) {
    }

    /**
     * Since when the pool usage has stayed above {@code threshold} without interruption, judged by the samples in
     * the history; null when the latest sample is not above it.
     */
    public Instant poolUsageAboveSince(double threshold) {
        Instant since = null;
        for (int i = poolUsage.size() - 1; i >= 0; i--) {
            UsagePoint point = poolUsage.get(i);
            if (point.usage() <= threshold) {
                break;
            }
            since = point.at();
        }
        return since;
    }

    /** The counter deltas observed after {@code from}, summed. */
    public Counts totalsAfter(Instant from) {
        Counts sum = Counts.ZERO;
        for (DeltaSample d : deltas) {
            if (d.at().isAfter(from)) {
                sum = sum.plus(d.counts());
            }
        }
        return sum;
    }
}
