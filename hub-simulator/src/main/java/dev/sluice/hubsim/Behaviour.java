package dev.sluice.hubsim;

/**
 * How the Hub answers the requests it accepts; can be swapped at run time as a whole.
 *
 * @param latencyMs fixed delay before each answer
 * @param jitterMs  extra delay, uniform in {@code [0, jitterMs]}, added to each answer
 * @param errorRate share of requests answered 500, from 0.0 to 1.0
 * @param failFirst the first this many requests for each distinct key are answered 500
 */
record Behaviour(long latencyMs, long jitterMs, double errorRate, int failFirst) {
    static final long MAX_DELAY_MS = 600_000;
    static final int MAX_FAIL_FIRST = 1_000_000;
    static final Behaviour DEFAULT = new Behaviour(0, 0, 0.0, 0);

    Behaviour {
        InvalidSettingException.requireBetween("latencyMs", latencyMs, 0, MAX_DELAY_MS);
        InvalidSettingException.requireBetween("jitterMs", jitterMs, 0, MAX_DELAY_MS);
        InvalidSettingException.requireBetween("errorRate", errorRate, 0.0, 1.0);
        InvalidSettingException.requireBetween("failFirst", failFirst, 0, MAX_FAIL_FIRST);
    }

    Behaviour withLatency(long latencyMs, long jitterMs) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst);
    }

    Behaviour withErrorRate(double errorRate) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst);
    }

    Behaviour withFailFirst(int failFirst) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst);
    }
}
