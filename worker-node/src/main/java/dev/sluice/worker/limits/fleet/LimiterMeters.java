package dev.sluice.worker.limits.fleet;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/** The fleet limiter's meters ({@code sluice_limiter_*}): its state, its store calls, its counts since start. */
record LimiterMeters(FleetHubLimiter limiter) implements MeterBinder {

    @Override
    public void bindTo(MeterRegistry meters) {
        Gauge.builder("sluice.limiter.degraded", limiter, f -> f.degraded() ? 1 : 0)
                .description("1 while the fleet limiter runs on cluster.on_store_failure").register(meters);
        FunctionCounter.builder("sluice.limiter.fallbacks", limiter, FleetHubLimiter::fallbacks)
                .description("Acquires decided by cluster.on_store_failure, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.degradations", limiter, FleetHubLimiter::degradations)
                .description("Times the fleet limiter became degraded, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.late_tokens", limiter, FleetHubLimiter::lateTokens)
                .description("Rate tokens left unused because their request would have left too late, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.release_failures", limiter, FleetHubLimiter::releaseFailures)
                .description("Fleet permits whose release failed (they come back when their lease ends), since start")
                .register(meters);
        FunctionCounter.builder("sluice.limiter.store.calls", limiter, FleetHubLimiter::storeCalls)
                .description("Calls to the fleet limiter's store (permit table and rate bucket)").register(meters);
        FunctionCounter.builder("sluice.limiter.expired.tokens", limiter, FleetHubLimiter::expiredTokens)
                .description("Rate tokens reserved ahead of this node's requests that expired unused").register(meters);
        Gauge.builder("sluice.limiter.permits.held", limiter, FleetHubLimiter::permitsHeld)
                .description("Fleet permits this node holds, in use or kept for its next requests").register(meters);
    }
}
