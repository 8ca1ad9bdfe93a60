package dev.sluice.hubsim;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a {@link HubSimulator} observed since it started or since its stats were last reset (an observation
 * period). Only Hub requests count; admin requests never do.
 *
 * <p>The maxima count every arrival, accepted or refused, so a client that overruns the Hub cannot look
 * compliant because the Hub refused the excess.
 *
 * @param totalRequests     Hub requests answered in this period
 * @param byStatus          those answers by HTTP status code, in ascending code order
 * @param inFlight          Hub requests of this period being handled now (arrived, not yet answered)
 * @param maxInFlight       the most Hub requests of this period handled at one time
 * @param maxWindowRequests the most arrivals of this period in any sliding one-second window {@code (t - 1 s, t]}
 * @param violations        arrivals that broke a configured limit, see {@link Violations}
 * @param limits            the limits in force
 * @param distinctKeys      distinct keys answered with 200
 * @param periodSeconds     how long this period has lasted (since the start or the last reset), by the Hub's clock:
 *                          rates computed from two snapshots need no clock of their own
 */
public record HubStats(
        long totalRequests,
        Map<Integer, Long> byStatus,
        int inFlight,
        int maxInFlight,
        int maxWindowRequests,
        Violations violations,
        Limits limits,
        long distinctKeys,
        double periodSeconds) {

    public HubStats {
        byStatus = Collections.unmodifiableSortedMap(new TreeMap<>(byStatus));
        Objects.requireNonNull(violations, "violations");
        Objects.requireNonNull(limits, "limits");
    }

    /** Answers with the given HTTP status in this period. */
    public long count(int status) {
        return byStatus.getOrDefault(status, 0L);
    }

    /**
     * Arrivals that broke a configured limit. An arrival breaks the window limit when, counting it, more than
     * {@link Limits#maxRequestsPerSecond()} requests (accepted or refused) arrived in the one-second window ending
     * at it; it breaks the in-flight limit when {@link Limits#maxInFlight()} accepted requests were already being
     * handled. When limits are enforced each such arrival is answered 429, so {@code total} equals the 429s.
     *
     * @param total    arrivals that broke at least one limit
     * @param window   arrivals that broke the requests-per-second limit
     * @param inFlight arrivals that broke the in-flight limit
     */
    public record Violations(long total, long window, long inFlight) {
        /** No violations. */
        public static final Violations NONE = new Violations(0, 0, 0);
    }

    /**
     * The Hub's own limits.
     *
     * @param maxRequestsPerSecond most requests in any sliding one-second window; 0 means unlimited
     * @param maxInFlight          most requests handled at one time; 0 means unlimited
     * @param enforced             whether requests over a limit are answered 429 (otherwise only counted)
     * @param retryAfterSecs       the {@code Retry-After} header value sent with a 429, in seconds
     * @throws IllegalArgumentException when a value is out of range; the message names it
     */
    public record Limits(int maxRequestsPerSecond, int maxInFlight, boolean enforced, int retryAfterSecs) {
        /** No limits; violations are neither possible nor answered. */
        public static final Limits NONE = new Limits(0, 0, true, 1);

        public Limits {
            InvalidSettingException.requireAtLeast("maxRequestsPerSecond", maxRequestsPerSecond, 0);
            InvalidSettingException.requireAtLeast("maxInFlight", maxInFlight, 0);
            InvalidSettingException.requireAtLeast("retryAfterSecs", retryAfterSecs, 0);
        }

        String toJson() {
            return "{\"maxRequestsPerSecond\":" + maxRequestsPerSecond + ",\"maxInFlight\":" + maxInFlight
                    + ",\"enforced\":" + enforced + ",\"retryAfterSecs\":" + retryAfterSecs + "}";
        }
    }

    /** This snapshot as the JSON document that {@code GET /admin/stats} returns. */
    public String toJson() {
        var json = new StringBuilder(256).append('{');
        json.append("\"totalRequests\":").append(totalRequests);
        json.append(",\"byStatus\":{");
        var first = true;
        for (var entry : byStatus.entrySet()) {
            json.append(first ? "" : ",").append('"').append(entry.getKey()).append("\":").append(entry.getValue());
            first = false;
        }
        json.append('}');
        json.append(",\"inFlight\":").append(inFlight);
        json.append(",\"maxInFlight\":").append(maxInFlight);
        json.append(",\"maxWindowRequests\":").append(maxWindowRequests);
        json.append(",\"violations\":{\"total\":").append(violations.total())
                .append(",\"window\":").append(violations.window())
                .append(",\"inFlight\":").append(violations.inFlight()).append('}');
        json.append(",\"limits\":").append(limits.toJson());
        json.append(",\"distinctKeys\":").append(distinctKeys);
        json.append(",\"periodSeconds\":").append(String.format(java.util.Locale.ROOT, "%.3f", periodSeconds));
        return json.append('}').toString();
    }
}
