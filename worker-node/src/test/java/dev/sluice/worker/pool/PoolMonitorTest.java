package dev.sluice.worker.pool;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

class PoolMonitorTest {

    private static PoolHealth sample(int max, int active) {
        return new PoolHealth(max, active, max - active, 0, 0.0, 0, Instant.EPOCH);
    }

    @Test
    void availabilityIsFreeOverMax() {
        assertThat(sample(20, 15).availability()).isEqualTo(0.25);
        assertThat(sample(20, 15).usage()).isEqualTo(0.75);
    }

    @Test
    void listenersHearEachTransitionOnce() {
        AtomicReference<PoolHealth> current = new AtomicReference<>(sample(10, 0));
        PoolMonitor monitor = new PoolMonitor(current::get, 0.2);
        List<String> heard = new ArrayList<>();
        monitor.addListener((pressure, s) -> heard.add(pressure + "@" + s.active()));

        monitor.sample();
        current.set(sample(10, 8));
        monitor.sample();
        assertThat(monitor.isUnderPressure()).as("8 of 10 active: 20% free is not below 20%").isFalse();
        current.set(sample(10, 9));
        monitor.sample();
        monitor.sample();
        assertThat(monitor.isUnderPressure()).isTrue();
        current.set(sample(10, 3));
        monitor.sample();
        assertThat(monitor.isUnderPressure()).isFalse();
        assertThat(heard).containsExactly("true@9", "false@3");
        assertThat(monitor.poolHealth().active()).isEqualTo(3);
    }
}
