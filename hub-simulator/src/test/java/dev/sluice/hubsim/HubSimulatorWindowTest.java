package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sliding one-second window over real HTTP. The Hub's time source is a fake one, so that a burst is one
 * instant and a pause is an exact length of time, whatever the load on the machine.
 */
class HubSimulatorWindowTest {
    private final HubClient client = new HubClient();
    private final FakeNanoTime time = new FakeNanoTime();
    private HubSimulator hub;

    @AfterEach
    void tearDown() {
        if (hub != null) {
            hub.close();
        }
        client.close();
    }

    private List<URI> keys(String prefix, int count) {
        return IntStream.range(0, count).mapToObj(i -> hub.uriFor(prefix + i)).toList();
    }

    @Test
    void maxWindowIsTheLargestBurstWhenBurstsArePausedMoreThanASecond() throws Exception {
        hub = HubSimulator.builder().nanoTime(time).build().start();

        client.burst(keys("first-", 40));
        time.advance(Duration.ofMillis(1_100));
        client.burst(keys("second-", 25));

        var stats = hub.stats();
        assertThat(stats.maxWindowRequests()).isEqualTo(40);
        assertThat(stats.totalRequests()).isEqualTo(65);
        assertThat(stats.violations()).isEqualTo(HubStats.Violations.NONE);
    }

    @Test
    void burstsLessThanASecondApartShareTheWindow() throws Exception {
        hub = HubSimulator.builder().nanoTime(time).build().start();

        client.burst(keys("first-", 40));
        time.advance(Duration.ofMillis(999));
        client.burst(keys("second-", 25));

        assertThat(hub.stats().maxWindowRequests()).isEqualTo(65);
    }

    @Test
    void refusesArrivalsBeyondMaxRequestsPerSecond() throws Exception {
        hub = HubSimulator.builder().nanoTime(time).maxRequestsPerSecond(25).build().start();

        var first = client.burst(keys("first-", 40));
        time.advance(Duration.ofMillis(1_100));
        var second = client.burst(keys("second-", 20));

        assertThat(first.count(200)).isEqualTo(25);
        assertThat(first.count(429)).isEqualTo(15);
        assertThat(first.withStatus(429))
                .allSatisfy(response -> assertThat(response.headers().firstValue("Retry-After")).hasValue("1"));
        assertThat(second.statusCounts()).as("the window slid past the first burst").containsOnlyKeys(200);
        var stats = hub.stats();
        assertThat(stats.count(429)).isEqualTo(15);
        assertThat(stats.violations()).isEqualTo(new HubStats.Violations(15, 15, 0));
        assertThat(stats.maxWindowRequests()).as("refused arrivals count too").isEqualTo(40);
    }
}
