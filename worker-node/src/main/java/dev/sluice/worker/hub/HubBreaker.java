package dev.sluice.worker.hub;

import dev.sluice.common.config.BreakerConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The Hub's circuit breaker ({@code [breaker]}): a Resilience4j breaker over a count-based window of
 * {@code failure_threshold} calls that opens when all of them failed, stays open {@code open_secs}, then lets
 * {@code half_open_calls} trial calls through. Only kinds that {@link ErrorKind#countsAgainstBreaker()} count; 429s
 * are ignored. {@link BreakerListener}s hear every change; its meters are Resilience4j's own.
 */
final class HubBreaker implements MeterBinder {
    private static final Logger log = LoggerFactory.getLogger(HubBreaker.class);

    /** Holds the one breaker, for Resilience4j's meter binder. */
    private final CircuitBreakerRegistry registry;
    private final CircuitBreaker breaker;
    private final List<BreakerListener> listeners = new CopyOnWriteArrayList<>();
    private final Clock clock;
    private final LongAdder rejections;
    private volatile long openUntilMillis;

    HubBreaker(BreakerConfig config, Clock clock, LongAdder rejections) {
        this.clock = clock;
        this.rejections = rejections;
        this.registry = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                .slidingWindow(config.failureThreshold(), config.failureThreshold(),
                        CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(100)
                .waitDurationInOpenState(Duration.ofSeconds(config.openSecs()))
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(config.halfOpenCalls())
                .recordException(t -> t instanceof SluiceException e && e.kind().countsAgainstBreaker())
                .ignoreException(t -> t instanceof SluiceException e && e.kind() == ErrorKind.HUB_RATE_LIMITED)
                .writableStackTraceEnabled(false)
                .clock(clock)
                .build());
        this.breaker = registry.circuitBreaker("hub");
        long openMillis = Duration.ofSeconds(config.openSecs()).toMillis();
        breaker.getEventPublisher().onStateTransition(event -> {
            BreakerListener.State from = state(event.getStateTransition().getFromState());
            BreakerListener.State to = state(event.getStateTransition().getToState());
            if (to == BreakerListener.State.OPEN) {
                openUntilMillis = clock.millis() + openMillis;
            }
            CircuitBreaker.Metrics m = breaker.getMetrics();
            BreakerListener.Transition t = new BreakerListener.Transition(from, to, m.getNumberOfFailedCalls(),
                    m.getNumberOfBufferedCalls(), m.getFailureRate(), m.getNumberOfNotPermittedCalls(), clock.instant());
            if (to == BreakerListener.State.OPEN) {
                log.warn("Hub circuit breaker {} -> {} after {} failed of {} calls; calls fail fast for {} s", from.tag(),
                        to.tag(), t.failedCalls(), t.bufferedCalls(), config.openSecs());
            } else {
                log.info("Hub circuit breaker {} -> {}", from.tag(), to.tag());
            }
            for (BreakerListener l : listeners) {
                try {
                    l.transitioned(t);
                } catch (RuntimeException e) {
                    log.warn("a breaker listener failed", e);
                }
            }
        });
    }

    private static BreakerListener.State state(CircuitBreaker.State s) {
        return switch (s) {
            case CLOSED -> BreakerListener.State.CLOSED;
            case OPEN, FORCED_OPEN -> BreakerListener.State.OPEN;
            case HALF_OPEN -> BreakerListener.State.HALF_OPEN;
            default -> BreakerListener.State.OTHER;
        };
    }

    void addListener(BreakerListener listener) {
        listeners.add(listener);
    }

    BreakerListener.State state() {
        return state(breaker.getState());
    }

    /** An open breaker refuses before the job takes a permit and a token; a half-open one is asked after. */
    boolean refuses() {
        CircuitBreaker.State s = breaker.getState();
        return s == CircuitBreaker.State.OPEN || s == CircuitBreaker.State.FORCED_OPEN;
    }

    boolean halfOpen() {
        return breaker.getState() == CircuitBreaker.State.HALF_OPEN;
    }

    boolean tryAcquirePermission() {
        return breaker.tryAcquirePermission();
    }

    void releasePermission() {
        breaker.releasePermission();
    }

    void onSuccess(long nanos) {
        breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
    }

    void onError(long nanos, Throwable failure) {
        breaker.onError(nanos, TimeUnit.NANOSECONDS, failure);
    }

    /** The failure of a call the breaker refused (counted), to retry when it half-opens. */
    SluiceException refused(String key) {
        rejections.increment();
        Duration left = Duration.ofMillis(Math.max(0, openUntilMillis - clock.millis()));
        return SluiceException.notAttempted(ErrorKind.HUB_UNAVAILABLE, "Hub circuit breaker is "
                + state().tag() + "; not calling the Hub for " + key, left.isZero() ? null : left);
    }

    /**
     * A trial call of the half-open breaker that failed the way an outage fails is the breaker's probe, not the
     * job's attempt: counted, a long outage would dead-letter the jobs that happened to be its probes.
     */
    SluiceException failedTrial(SluiceException failure) {
        if (!failure.kind().countsAgainstBreaker()) {
            return failure;
        }
        SluiceException probe = SluiceException.notAttempted(failure.kind(),
                "trial call of the half-open Hub circuit breaker failed: " + failure.getMessage(),
                failure.retryAfter().orElse(null));
        probe.addSuppressed(failure);
        return probe;
    }

    /** Resilience4j's meters of the breaker: {@code resilience4j_circuitbreaker_*{name="hub"}}. */
    @Override
    public void bindTo(MeterRegistry meters) {
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(registry).bindTo(meters);
    }
}
