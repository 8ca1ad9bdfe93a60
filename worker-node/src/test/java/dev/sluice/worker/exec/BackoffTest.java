package dev.sluice.worker.exec;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.RetryConfig;
import dev.sluice.common.error.ErrorKind;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class BackoffTest {

    private static RetryConfig retry(String jitter) {
        return ConfigLoader.parse("[retry]\nbase_delay_ms = 100\nmax_delay_ms = 1000\njitter = \"" + jitter + "\"\n",
                Map.of()).retry();
    }

    @Test
    void capDoublesFromTheBaseUpToTheMaximum() {
        Backoff b = new Backoff(retry("none"), new SplittableRandom(1));
        assertThat(b.capMs(1)).isEqualTo(100);
        assertThat(b.capMs(2)).isEqualTo(200);
        assertThat(b.capMs(3)).isEqualTo(400);
        assertThat(b.capMs(4)).isEqualTo(800);
        assertThat(b.capMs(5)).isEqualTo(1000);
        assertThat(b.capMs(60)).isEqualTo(1000);
    }

    @Test
    void fullJitterStaysWithinZeroAndTheCapAndSpreads() {
        Backoff b = new Backoff(retry("full"), new SplittableRandom(42));
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < 10_000; i++) {
            long d = b.delayMs(4, ErrorKind.BACKPRESSURE, null);
            // Uniform in [0, 800], floored at the kind's suggested 250 ms.
            assertThat(d).isBetween(ErrorKind.BACKPRESSURE.suggestedRetryDelay().toMillis(), 800L);
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        assertThat(max - min).as("jitter spreads the delays").isGreaterThan(0);
    }

    @Test
    void equalJitterStaysInTheUpperHalf() {
        Backoff b = new Backoff(retry("equal"), new SplittableRandom(7));
        for (int i = 0; i < 10_000; i++) {
            assertThat(b.delayMs(4, ErrorKind.BACKPRESSURE, null)).isBetween(400L, 800L);
        }
    }

    @Test
    void retryAfterIsHonoured() {
        Backoff b = new Backoff(retry("full"), new SplittableRandom(3));
        assertThat(b.delayMs(1, ErrorKind.HUB_RATE_LIMITED, Duration.ofSeconds(3))).isEqualTo(3000);
    }

    @Test
    void neverShorterThanTheKindsSuggestion() {
        Backoff b = new Backoff(retry("full"), new SplittableRandom(5));
        for (int i = 0; i < 1_000; i++) {
            assertThat(b.delayMs(1, ErrorKind.HUB_UNAVAILABLE, null)).isEqualTo(1000);
        }
    }
}
