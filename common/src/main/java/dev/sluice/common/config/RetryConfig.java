package dev.sluice.common.config;


/**
 * {@code [retry]}: exponential backoff for recoverable failures. Only attempts that ran the handler count;
 * waiting for the breaker, a permit or a 429 does not.
 *
 * @param baseDelayMs  delay cap of the first retry
 * @param maxDelayMs   the largest delay
 * @param maxAttempts  attempts before the job is dead-lettered
 * @param jitter       {@code full} (uniform in [0, cap]), {@code equal} (uniform in [cap/2, cap]) or {@code none}
 */
public record RetryConfig(int baseDelayMs, int maxDelayMs, int maxAttempts, Jitter jitter) {

    static RetryConfig read(ConfigReader r) {
        int base = r.intIn("retry.base_delay_ms", 500, 1, 3_600_000);
        int max = r.intIn("retry.max_delay_ms", 60_000, 1, 86_400_000);
        if (base > max) {
            throw ConfigReader.conflict("retry.base_delay_ms", Integer.toString(base),
                    "must not exceed retry.max_delay_ms (" + max + ")");
        }
        return new RetryConfig(base, max,
                r.intIn("retry.max_attempts", 5, 1, 100),
                r.choice("retry.jitter", Jitter.FULL, Jitter.class));
    }
}
