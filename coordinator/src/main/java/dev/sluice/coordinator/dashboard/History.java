package dev.sluice.coordinator.dashboard;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/** The dashboard's charts: one sample every few seconds over the last 15 minutes, kept in memory. */
public final class History {
    /** How far back the charts go. */
    public static final Duration SPAN = Duration.ofMinutes(15);

    /**
     * One sample.
     *
     * @param jobsPerSecByNode jobs done per second on each live node
     */
    public record Sample(Instant at, double jobsPerSec, double hubRequestsPerSec, long waiting, long pending,
                         long delayed, long dead, Map<String, Double> jobsPerSecByNode,
                         Map<String, Double> poolUsageByNode) {
    }

    private final Deque<Sample> samples = new ArrayDeque<>();

    public synchronized void add(Sample s) {
        if (!samples.isEmpty() && !s.at().isAfter(samples.peekLast().at())) {
            return;
        }
        samples.addLast(s);
        while (!samples.isEmpty() && samples.peekFirst().at().isBefore(s.at().minus(SPAN))) {
            samples.removeFirst();
        }
    }

    /** The samples, oldest first. */
    public synchronized List<Sample> samples() {
        return new ArrayList<>(samples);
    }

    /**
     * The net drain rate: how fast the jobs left to do (waiting, running, delayed) went down over the last
     * {@code window}, per second; NaN with fewer than two samples in it.
     */
    public synchronized double netDrainPerSec(Duration window) {
        Sample last = samples.peekLast();
        if (last == null) {
            return Double.NaN;
        }
        Sample first = null;
        for (Sample s : samples) {
            if (!s.at().isBefore(last.at().minus(window))) {
                first = s;
                break;
            }
        }
        if (first == null || first == last) {
            return Double.NaN;
        }
        double secs = Duration.between(first.at(), last.at()).toMillis() / 1000.0;
        return (left(first) - left(last)) / secs;
    }

    static long left(Sample s) {
        return s.waiting() + s.pending() + s.delayed();
    }
}
