package dev.sluice.hubsim;

import java.util.Objects;

/**
 * How the Hub answers the requests it accepts; can be swapped at run time as a whole.
 *
 * @param latencyMs fixed delay before each answer
 * @param jitterMs  extra delay, uniform in {@code [0, jitterMs]}, added to each answer
 * @param errorRate share of requests answered 500, from 0.0 to 1.0
 * @param failFirst the first this many requests for each distinct key are answered 500
 * @param body      how the body of a 200 answer goes out (size, framing, pace)
 */
record Behaviour(long latencyMs, long jitterMs, double errorRate, int failFirst, BodyShape body) {
    static final long MAX_DELAY_MS = 600_000;
    static final int MAX_FAIL_FIRST = 1_000_000;
    static final Behaviour DEFAULT = new Behaviour(0, 0, 0.0, 0, BodyShape.PLAIN);

    Behaviour {
        InvalidSettingException.requireBetween("latencyMs", latencyMs, 0, MAX_DELAY_MS);
        InvalidSettingException.requireBetween("jitterMs", jitterMs, 0, MAX_DELAY_MS);
        InvalidSettingException.requireBetween("errorRate", errorRate, 0.0, 1.0);
        InvalidSettingException.requireBetween("failFirst", failFirst, 0, MAX_FAIL_FIRST);
        Objects.requireNonNull(body, "body");
    }

    Behaviour withLatency(long latencyMs, long jitterMs) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst, body);
    }

    Behaviour withErrorRate(double errorRate) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst, body);
    }

    Behaviour withFailFirst(int failFirst) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst, body);
    }

    Behaviour withBody(BodyShape body) {
        return new Behaviour(latencyMs, jitterMs, errorRate, failFirst, body);
    }
}
