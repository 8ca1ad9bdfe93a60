package dev.sluice.worker.hub;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * Reads the Hub's {@code Retry-After} header, capped at {@code hub.max_retry_after_secs}: a Hub that asks for an
 * hour's pause gets the cap, counted in {@code capped} and said in the log at most once a minute.
 */
final class RetryAfter {
    private static final Logger log = LoggerFactory.getLogger(RetryAfter.class);
    private static final Pattern DIGITS = Pattern.compile("\\d+");
    private static final long CAP_WARNING_INTERVAL_MS = 60_000;

    private final Duration max;
    private final Clock clock;
    private final LongAdder capped;
    private final AtomicLong nextCapWarningMillis = new AtomicLong(Long.MIN_VALUE);

    RetryAfter(Duration max, Clock clock, LongAdder capped) {
        this.max = max;
        this.clock = clock;
        this.capped = capped;
    }

    /**
     * A {@code Retry-After} value (seconds, or an HTTP date) as a delay of at most {@code hub.max_retry_after_secs};
     * null when it is negative or unreadable. A date in the past is no delay.
     */
    Duration parse(String value) {
        String v = value.strip();
        Duration asked;
        if (DIGITS.matcher(v).matches()) {
            try {
                asked = Duration.ofSeconds(Long.parseLong(v));
            } catch (NumberFormatException e) {
                asked = null; // more seconds than a long holds: surely over the cap
            }
        } else {
            try {
                asked = Duration.between(clock.instant(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
            } catch (DateTimeParseException e) {
                log.debug("ignoring the Hub's unreadable Retry-After: {}", v);
                return null;
            }
            if (asked.isNegative()) {
                return Duration.ZERO;
            }
        }
        if (asked != null && asked.compareTo(max) <= 0) {
            return asked;
        }
        capped.increment();
        long now = clock.millis();
        long next = nextCapWarningMillis.get();
        if (now >= next && nextCapWarningMillis.compareAndSet(next, now + CAP_WARNING_INTERVAL_MS)) {
            log.warn("the Hub asked for a pause of {} s (Retry-After: {}); capped at {} s (hub.max_retry_after_secs), "
                            + "{} capped since start", asked == null ? v : asked.toSeconds(), v,
                    max.toSeconds(), capped.sum());
        }
        return max;
    }
}
