package dev.sluice.worker.pool;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * Samples the shared pool on a schedule and tells listeners when it enters or leaves pressure: fewer than
 * {@code threshold} of the connections available. While under pressure the fetcher pauses and blocking reads
 * shorten their timeout.
 */
public final class PoolMonitor {
    private static final Logger log = LoggerFactory.getLogger(PoolMonitor.class);

    private final Supplier<PoolHealth> sampler;
    private final double threshold;
    private final List<PressureListener> listeners = new CopyOnWriteArrayList<>();
    private volatile PoolHealth last;
    private volatile boolean underPressure;

    public PoolMonitor(Supplier<PoolHealth> sampler, double threshold) {
        this.sampler = sampler;
        this.threshold = threshold;
        this.last = sampler.get();
    }

    public void addListener(PressureListener listener) {
        listeners.add(listener);
    }

    /** Takes one sample and reports a transition, if any. Called by the node's scheduler. */
    public PoolHealth sample() {
        PoolHealth now = sampler.get();
        last = now;
        boolean pressure = now.availability() < threshold;
        if (pressure != underPressure) {
            underPressure = pressure;
            if (pressure) {
                log.warn("Redis pool under pressure: {} of {} connections active, {} waiting (availability {} < {})",
                        now.active(), now.max(), now.waiters(), String.format("%.2f", now.availability()), threshold);
            } else {
                log.info("Redis pool pressure cleared: {} of {} connections active", now.active(), now.max());
            }
            for (PressureListener l : listeners) {
                try {
                    l.onPressureChange(pressure, now);
                } catch (RuntimeException e) {
                    log.warn("pressure listener {} failed", l, e);
                }
            }
        }
        return now;
    }

    /** The latest sample. */
    public PoolHealth poolHealth() {
        return last;
    }

    public boolean isUnderPressure() {
        return underPressure;
    }

    public double threshold() {
        return threshold;
    }
}
