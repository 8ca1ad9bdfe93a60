package dev.sluice.worker.admin;

import java.util.Map;

/** Changes the fleet's live Hub limits, for {@code POST /api/limits}. */
@FunctionalInterface
public interface LimitsControl {
    /**
     * Sets the fleet's limits if its record is still at {@code expectedVersion} (any when null).
     *
     * @param by who asks (as the request named itself), for the record and the events
     * @return whether it was applied, and the record after the attempt
     * @throws IllegalArgumentException for a limit out of bounds (nothing changed)
     */
    Result set(Long expectedVersion, int maxPerSecond, int maxInFlight, String by);

    /** @param limits the record after the attempt: version, limits, who and when */
    record Result(boolean applied, Map<String, Object> limits) {
    }
}
