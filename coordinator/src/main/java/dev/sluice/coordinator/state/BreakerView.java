package dev.sluice.coordinator.state;

import java.time.Instant;
import java.util.Locale;
import java.util.Set;

/**
 * A circuit breaker of a node as last reported.
 *
 * @param state           the breaker's state name in upper case ({@code CLOSED}, {@code OPEN}, {@code HALF_OPEN}, ...)
 * @param since           when it entered this state (as far as the coordinator saw)
 * @param notClosedSince  when it last left {@code CLOSED}, kept while it cycles between open and half-open; null
 *                        while closed
 */
public record BreakerView(String state, Instant since, Instant notClosedSince) {

    private static final Set<String> NOT_CLOSED = Set.of("OPEN", "HALF_OPEN", "FORCED_OPEN");

    /** True for the states that refuse or ration calls: open, half-open, forced open. */
    public boolean notClosed() {
        return isNotClosed(state);
    }

    static boolean isNotClosed(String state) {
        return state != null && NOT_CLOSED.contains(state);
    }

    static String normalize(String state) {
        return state == null ? "UNKNOWN" : state.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    }
}
