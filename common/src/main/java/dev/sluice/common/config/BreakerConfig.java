package dev.sluice.common.config;

/**
 * {@code [breaker]}: the circuit breaker in front of each downstream.
 *
 * @param failureThreshold  consecutive failures that open it
 * @param openSecs          how long it stays open before trial calls
 * @param halfOpenCalls     trial calls allowed while half-open
 */
public record BreakerConfig(int failureThreshold, int openSecs, int halfOpenCalls) {

    static BreakerConfig read(ConfigReader r) {
        return new BreakerConfig(
                r.intIn("breaker.failure_threshold", 5, 1, 1_000),
                r.intIn("breaker.open_secs", 30, 1, 86_400),
                r.intIn("breaker.half_open_calls", 1, 1, 100));
    }
}
