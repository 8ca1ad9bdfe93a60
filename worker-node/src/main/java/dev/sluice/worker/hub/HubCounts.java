package dev.sluice.worker.hub;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;

/**
 * What the Hub client counted since start. Every count only goes up: a request is counted once it leaves (or fails
 * before it could), never counted and then taken back, so each is a Prometheus counter ({@code sluice_hub_*_total}).
 */
public final class HubCounts implements MeterBinder {
    final LongAdder requests = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder rateLimited = new LongAdder();
    final LongAdder failures = new LongAdder();
    final LongAdder breakerRejections = new LongAdder();
    final LongAdder resendsRefused = new LongAdder();
    final LongAdder tokensMissed = new LongAdder();
    final LongAdder retryAfterCapped = new LongAdder();
    final LongAdder bodyBytesRead = new LongAdder();
    final LongAdder bodiesTooLarge = new LongAdder();
    final LongAdder bodyTimeouts = new LongAdder();

    /** Requests sent to the Hub (one per attempt that left or failed to connect; none for one held back). */
    public long requests() {
        return requests.sum();
    }

    /** Requests that timed out: connect, the whole request, or the body (see {@link #bodyTimeouts()}). */
    public long timeouts() {
        return timeouts.sum();
    }

    /** Answers 429 Too Many Requests. */
    public long rateLimited() {
        return rateLimited.sum();
    }

    /** Requests that failed, other than 429s (timeouts included). */
    public long failures() {
        return failures.sum();
    }

    /** Calls refused by the open (or half-open and busy) breaker without reaching the Hub. */
    public long breakerRejections() {
        return breakerRejections.sum();
    }

    /** Re-sends the HTTP client attempted on its own and this client refused (see {@link SingleSendBody}). */
    public long resendsRefused() {
        return resendsRefused.sum();
    }

    /** Attempts held back before their first byte because they would have left too late for their rate token. */
    public long tokensMissed() {
        return tokensMissed.sum();
    }

    /** Retry-After values (of 429s and other answers) longer than {@code hub.max_retry_after_secs}, cut to it. */
    public long retryAfterCapped() {
        return retryAfterCapped.sum();
    }

    /** Body bytes received from the Hub (kept or not). */
    public long bodyBytesRead() {
        return bodyBytesRead.sum();
    }

    /** Answers refused for a body over {@code hub.max_response_bytes}. */
    public long bodiesTooLarge() {
        return bodiesTooLarge.sum();
    }

    /** Answers whose body was not in full by the request timeout (also counted in {@link #timeouts()}). */
    public long bodyTimeouts() {
        return bodyTimeouts.sum();
    }

    @Override
    public void bindTo(MeterRegistry meters) {
        counter(meters, "sluice.hub.requests", HubCounts::requests, "Requests sent to the Hub, since start");
        counter(meters, "sluice.hub.timeouts", HubCounts::timeouts,
                "Hub requests that timed out (connect or whole request), since start");
        counter(meters, "sluice.hub.rate_limited", HubCounts::rateLimited,
                "Hub answers 429 Too Many Requests, since start");
        counter(meters, "sluice.hub.retry_after_capped", HubCounts::retryAfterCapped,
                "Hub Retry-After values longer than hub.max_retry_after_secs, cut to it, since start");
        counter(meters, "sluice.hub.bodies_too_large", HubCounts::bodiesTooLarge,
                "Hub answers over hub.max_response_bytes, since start");
        counter(meters, "sluice.hub.body_timeouts", HubCounts::bodyTimeouts,
                "Hub answers whose body was not in full by hub.request_timeout_ms, since start");
        counter(meters, "sluice.hub.breaker.rejected", HubCounts::breakerRejections,
                "Hub calls refused by the open circuit breaker, since start");
        counter(meters, "sluice.hub.tokens_missed", HubCounts::tokensMissed,
                "Hub requests held back before their first byte because they would have left too late for their "
                        + "rate token (sent again on a new one), since start");
        counter(meters, "sluice.hub.resends_refused", HubCounts::resendsRefused,
                "Re-sends of a Hub request by the HTTP client refused for lack of a token and permit, since start");
    }

    private void counter(MeterRegistry meters, String name, ToDoubleFunction<HubCounts> count, String description) {
        FunctionCounter.builder(name, this, count).description(description).register(meters);
    }
}
