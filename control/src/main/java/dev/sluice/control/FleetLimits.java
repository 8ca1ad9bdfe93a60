package dev.sluice.control;

import java.time.Instant;

/**
 * One version of the fleet's Hub limits, as the fleet's limits record in Redis holds it ({@link FleetRecord}).
 *
 * @param version      increases with every change (Redis's time in ms when it was made, or one more than the last)
 * @param maxPerSecond hub.max_requests_per_second for the whole fleet
 * @param maxInFlight  hub.max_concurrent_connections for the whole fleet
 * @param changedBy    who made this version: {@code config of <node>} when a node's file seeded it, else the name an
 *                     operator gave
 * @param changedAtMs  when, by Redis's clock (epoch ms)
 */
public record FleetLimits(long version, int maxPerSecond, int maxInFlight, String changedBy, long changedAtMs) {
    /** The same bounds as {@code hub.max_requests_per_second} and {@code hub.max_concurrent_connections}. */
    public static final int MAX_PER_SECOND = 1_000_000;
    public static final int MAX_IN_FLIGHT = 10_000;
    /** The prefix of {@link #changedBy} for a version a node's configuration file seeded. */
    public static final String SEEDED_BY = "config of ";

    /**
     * Checks a requested pair of limits.
     *
     * @throws IllegalArgumentException naming the limit, the value and the rule
     */
    public static void check(int maxPerSecond, int maxInFlight) {
        if (maxPerSecond < 1 || maxPerSecond > MAX_PER_SECOND) {
            throw new IllegalArgumentException("requests per second must be between 1 and " + MAX_PER_SECOND
                    + ", but was " + maxPerSecond);
        }
        if (maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT) {
            throw new IllegalArgumentException("requests in flight must be between 1 and " + MAX_IN_FLIGHT
                    + ", but was " + maxInFlight);
        }
    }

    /** Whether a node's configuration file seeded this version (no operator changed the limits since). */
    public boolean seeded() {
        return changedBy.startsWith(SEEDED_BY);
    }

    /** As JSON shows it. */
    public java.util.Map<String, Object> toMap() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("version", version);
        m.put("maxRequestsPerSecond", maxPerSecond);
        m.put("maxInFlight", maxInFlight);
        m.put("changedBy", changedBy);
        m.put("changedAt", Instant.ofEpochMilli(changedAtMs).toString());
        return m;
    }

    /** {@code version 1765080000123, set by alice at 2026-12-07T05:20:00.123Z}. */
    public String describe() {
        return "version " + version + ", " + (seeded() ? "seeded from the " + changedBy : "set by " + changedBy)
                + " at " + Instant.ofEpochMilli(changedAtMs);
    }
}
