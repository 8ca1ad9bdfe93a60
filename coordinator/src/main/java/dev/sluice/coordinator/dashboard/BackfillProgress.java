package dev.sluice.coordinator.dashboard;

import dev.sluice.control.Backfills;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Each backfill's drain rate and time to drain, from its counts as read from Redis and Redis's own time: the jobs of
 * the backfill that ended (done or dead-lettered) over the last {@code window}, net of replays. Readings come from
 * the dashboard's snapshots; the coordinator's clock plays no part, so a coordinator with a wrong clock still
 * estimates right.
 */
final class BackfillProgress {
    /** The shortest span of readings a rate is given for. */
    static final Duration MIN_SPAN = Duration.ofSeconds(3);
    /** Readings closer than this to the last are not kept, so a busy page adds no more than one a second. */
    static final Duration MIN_GAP = Duration.ofSeconds(1);

    private final Duration window;
    private final Map<String, ArrayDeque<long[]>> readings = new HashMap<>();

    BackfillProgress(Duration window) {
        this.window = window;
    }

    /** What the dashboard says of one backfill. */
    record Estimate(double jobsPerSec, Long etaSecs, String text) {
    }

    /** Takes a reading of every listed backfill; forgets those no longer listed. */
    synchronized void observe(Backfills.Reading reading) {
        Set<String> listed = new HashSet<>();
        for (Backfills.Backfill b : reading.backfills()) {
            listed.add(b.id());
            ArrayDeque<long[]> r = readings.computeIfAbsent(b.id(), id -> new ArrayDeque<>());
            if (!r.isEmpty() && reading.redisTimeMs() < r.peekLast()[0]) {
                r.clear(); // Redis's clock went back (a failover, a restore): start the rate again
            }
            if (r.isEmpty() || reading.redisTimeMs() - r.peekLast()[0] >= MIN_GAP.toMillis()) {
                r.addLast(new long[] {reading.redisTimeMs(), b.ended()});
            }
            // Keep one reading at or before the window's start, so the rate spans the whole window.
            long start = reading.redisTimeMs() - window.toMillis();
            while (r.size() > 2) {
                Iterator<long[]> it = r.iterator();
                it.next();
                if (it.next()[0] > start) {
                    break;
                }
                r.removeFirst();
            }
        }
        readings.keySet().retainAll(listed);
    }

    /** The rate, the time to drain and a line of text for {@code b}, as of the last reading. */
    synchronized Estimate estimate(Backfills.Backfill b) {
        ArrayDeque<long[]> r = readings.get(b.id());
        double rate = Double.NaN;
        if (r != null && r.size() >= 2) {
            long[] first = r.peekFirst();
            long[] last = r.peekLast();
            long spanMs = last[0] - first[0];
            if (spanMs >= MIN_SPAN.toMillis()) {
                rate = Math.max(0, (last[1] - first[1]) * 1000.0 / spanMs);
            }
        }
        String prefix = switch (b.state()) {
            case "enqueuing" -> "enqueue running (" + b.total() + " so far); ";
            case "stopped" -> "enqueue stopped after " + b.total() + " jobs"
                    + (b.uncertain() > 0 ? " (up to " + b.uncertain() + " of them may not have gone in)" : "") + "; ";
            default -> "";
        };
        if (b.finished()) {
            return new Estimate(rate, 0L, "done: " + b.done() + " of " + b.total() + " jobs"
                    + (b.dead() > 0 ? ", " + b.dead() + " dead-lettered" : ""));
        }
        if (b.left() == 0) {
            return new Estimate(rate, 0L, prefix + "all jobs enqueued so far have ended");
        }
        if (Double.isNaN(rate)) {
            return new Estimate(rate, null, prefix + b.left() + " left; measuring the rate");
        }
        if (rate == 0) {
            return new Estimate(rate, null, prefix + b.left() + " left; not draining: none ended in the last "
                    + Math.round(Math.min(window.toSeconds(), spanSecs(r))) + " s");
        }
        long eta = (long) Math.ceil(b.left() / rate);
        return new Estimate(rate, eta, prefix + "about " + DashboardFeed.human(Duration.ofSeconds(eta)) + " at "
                + String.format(Locale.ROOT, "%.1f", rate) + " jobs/s");
    }

    private static double spanSecs(ArrayDeque<long[]> r) {
        return (r.peekLast()[0] - r.peekFirst()[0]) / 1000.0;
    }
}
