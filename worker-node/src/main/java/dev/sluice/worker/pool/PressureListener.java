package dev.sluice.worker.pool;

/** Told when the pool enters or leaves pressure; the sample is the one that crossed the threshold. */
@FunctionalInterface
public interface PressureListener {
    void onPressureChange(boolean underPressure, PoolHealth sample);
}
