package dev.sluice.worker.hub;

import java.time.Instant;

/** Hears the Hub circuit breaker change state. Called on the thread that caused the change; must not block. */
public interface BreakerListener {

    void transitioned(Transition transition);

    /** The breaker states a listener sees. */
    enum State {
        CLOSED, OPEN, HALF_OPEN, OTHER;

        /** {@code closed}, {@code open}, {@code half-open}, {@code other}: as in events and metrics. */
        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /**
     * One change of state.
     *
     * @param from           the state before
     * @param to             the state now
     * @param failedCalls    failed calls in the breaker's window at the change
     * @param bufferedCalls  calls in the window
     * @param failureRate    failed share of the window in percent, or -1 while the window is not yet full
     * @param notPermitted   calls refused while open, since the breaker was built
     * @param at             when it happened
     */
    record Transition(State from, State to, int failedCalls, int bufferedCalls, float failureRate, long notPermitted,
                      Instant at) {
    }
}
