package dev.sluice.worker.limits.fleet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RateShapeTest {

    @ParameterizedTest(name = "R = {0}")
    @CsvSource({"1, 1, 20, 21", "10, 1, 95, 10", "20, 1, 191, 10", "100, 1, 955, 10", "1000, 2, 9541, 10", "2000, 5, 19063, 10"})
    void shapeForTypicalLimits(int limit, long capacity, long refill, long periodSecs) {
        RateShape shape = RateShape.of(limit);
        assertThat(shape.capacity()).isEqualTo(capacity);
        assertThat(shape.refillTokens()).isEqualTo(refill);
        assertThat(shape.refillPeriod().toSeconds()).isEqualTo(periodSecs);
    }

    @Test
    void anySlidingSecondStaysWithinTheLimitEvenWithRequestsLeaving45MsLate() {
        for (int limit = 1; limit <= 200_000; limit++) {
            RateShape shape = RateShape.of(limit);
            // Arrivals in a second come from grants of 1.045 s: at most C + r * 1.045 of them, an integer.
            double mostGrants = shape.capacity() + shape.ratePerSecond() * 1.045;
            assertThat(Math.floor(mostGrants)).as("R = %d", limit).isLessThanOrEqualTo(limit);
            assertThat(Math.floor(shape.maxPerSecond())).as("R = %d", limit).isLessThanOrEqualTo(limit);
            assertThat(shape.latenessTolerance(limit)).as("R = %d", limit).isGreaterThanOrEqualTo(Duration.ofMillis(46));
        }
    }

    @Test
    void steadyUtilizationMeetsTheTargets() {
        assertThat(RateShape.of(10).ratePerSecond() / 10).isGreaterThanOrEqualTo(0.949);
        for (int limit = 1; limit <= 200_000; limit++) {
            double utilization = RateShape.of(limit).ratePerSecond() / limit;
            assertThat(utilization).as("R = %d", limit).isGreaterThanOrEqualTo(limit >= 20 ? 0.95 : 0.90);
        }
    }

    @Test
    void aLimitBelowOneIsRefused() {
        assertThatThrownBy(() -> RateShape.of(0)).hasMessageContaining("at least 1, but was 0");
    }
}
