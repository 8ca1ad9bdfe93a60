package dev.sluice.coordinator.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Lets one log line per key through per period and counts the ones held back, so that a flood of bad input (or a
 * rule failing at every evaluation) cannot flood the log. The caller passes the time, so it follows whatever clock
 * the caller runs on. Thread-safe. Every key is remembered: use few of them (a reason, a rule name), never a value
 * taken from the input.
 */
public final class LogThrottle {

    private final Duration period;
    private final Map<String, Window> windows = new HashMap<>();

    public LogThrottle(Duration period) {
        this.period = Objects.requireNonNull(period, "period");
    }

    /**
     * Whether a line for {@code key} may be logged at {@code now}: -1 when it is held back, else how many lines for
     * that key were held back since the last one let through (0 for the first).
     */
    public synchronized long permit(String key, Instant now) {
        Window window = windows.get(key);
        if (window != null && now.isBefore(window.openedAt.plus(period)) && !now.isBefore(window.openedAt)) {
            window.held++;
            return -1;
        }
        windows.put(key, new Window(now));
        return window == null ? 0 : window.held;
    }

    public Duration period() {
        return period;
    }

    private static final class Window {
        final Instant openedAt;
        long held;

        Window(Instant openedAt) {
            this.openedAt = openedAt;
        }
    }
}
