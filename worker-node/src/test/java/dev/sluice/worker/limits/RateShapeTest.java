package dev.sluice.worker.limits;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RateShapeTest {

    @ParameterizedTest(name = "R = {0}")
    @CsvSource({"1, 1, 20, 21", "10, 1, 9, 1", "20, 1, 19, 1", "100, 1, 95, 1", "1000, 5, 950, 1", "2000, 10, 1900, 1"})
    void shapeForTypicalLimits(int limit, long capacity, long refill, long periodSecs) {
        RateShape shape = RateShape.of(limit);
        assertThat(shape.capacity()).isEqualTo(capacity);
        assertThat(shape.refillTokens()).isEqualTo(refill);
        assertThat(shape.refillPeriod().toSeconds()).isEqualTo(periodSecs);
    }

    @Test
    void anySlidingSecondStaysWithinTheLimitEvenWithRequestsLeaving25MsLate() {
        for (int limit = 1; limit <= 5_000; limit++) {
            RateShape shape = RateShape.of(limit);
            // Arrivals in a second come from grants of 1.025 s: at most C + r * 1.025 of them, an integer.
            double mostGrants = shape.capacity() + shape.ratePerSecond() * 1.025;
            assertThat(Math.floor(mostGrants)).as("R = %d", limit).isLessThanOrEqualTo(limit);
            assertThat(Math.floor(shape.maxPerSecond())).as("R = %d", limit).isLessThanOrEqualTo(limit);
        }
    }

    @Test
    void fromTwoHundredPerSecondUpRequestsMayLeave47MsLate() {
        for (int limit = 200; limit <= 100_000; limit++) {
            assertThat(RateShape.of(limit).latenessTolerance(limit)).as("R = %d", limit)
                    .isGreaterThanOrEqualTo(java.time.Duration.ofMillis(47));
        }
    }

    @Test
    void steadyUtilizationMeetsTheTargets() {
        assertThat(RateShape.of(10).ratePerSecond() / 10).isGreaterThanOrEqualTo(0.90);
        for (int limit = 20; limit <= 5_000; limit++) {
            assertThat(RateShape.of(limit).ratePerSecond() / limit).as("R = %d", limit).isGreaterThanOrEqualTo(0.95);
        }
    }

    @Test
    void aLimitBelowOneIsRefused() {
        assertThatThrownBy(() -> RateShape.of(0)).hasMessageContaining("at least 1, but was 0");
    }
}
