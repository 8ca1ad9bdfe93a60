package dev.sluice.common.health;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetryDelayTest {

    private static List<Long> pauses(RetryDelay delay, int n) {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(delay.next().toMillis());
        }
        return out;
    }

    @Test
    void doublesUpToTheMaximumAndStaysThere() {
        assertThat(pauses(new RetryDelay(Duration.ofMillis(50), Duration.ofMillis(2_000)), 9))
                .containsExactly(50L, 100L, 200L, 400L, 800L, 1_600L, 2_000L, 2_000L, 2_000L);
        assertThat(pauses(new RetryDelay(Duration.ofMillis(100), Duration.ofMillis(5_000)), 8))
                .containsExactly(100L, 200L, 400L, 800L, 1_600L, 3_200L, 5_000L, 5_000L);
        assertThat(pauses(new RetryDelay(Duration.ofSeconds(1), Duration.ofSeconds(1)), 3)).containsExactly(1_000L,
                1_000L, 1_000L);
    }

    @Test
    void aSuccessStartsAgainAtTheFirstPause() {
        RetryDelay delay = new RetryDelay(Duration.ofMillis(100), Duration.ofSeconds(5));
        pauses(delay, 4);

        delay.reset();

        assertThat(pauses(delay, 2)).containsExactly(100L, 200L);
    }

    @Test
    void aMaximumNearLongsEndDoesNotOverflow() {
        RetryDelay delay = new RetryDelay(Duration.ofMillis(1), Duration.ofSeconds(Long.MAX_VALUE / 2));
        for (int i = 0; i < 200; i++) {
            assertThat(delay.next()).isPositive();
        }
    }

    @Test
    void refusesAPauseThatCannotWork() {
        assertThatThrownBy(() -> new RetryDelay(Duration.ZERO, Duration.ofSeconds(1)))
                .hasMessageContaining("0 < first <= max");
        assertThatThrownBy(() -> new RetryDelay(Duration.ofSeconds(2), Duration.ofSeconds(1)))
                .hasMessageContaining("first PT2S, max PT1S");
    }
}
