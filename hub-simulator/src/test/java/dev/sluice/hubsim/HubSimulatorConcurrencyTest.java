package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Hundreds of requests at once, over real HTTP, each on its own connection. */
class HubSimulatorConcurrencyTest {
    private static final int REQUESTS = 200;

    private final HubClient client = new HubClient();
    private HubSimulator hub;

    @AfterEach
    void tearDown() {
        if (hub != null) {
            hub.close();
        }
        client.close();
    }

    private List<URI> distinctKeys(int count) {
        return IntStream.range(0, count).mapToObj(i -> hub.uriFor("key-" + i)).toList();
    }

    @Test
    void servesHundredsOfRequestsConcurrentlyAndCountsEveryOne() throws Exception {
        hub = HubSimulator.builder().latencyMs(400).build().start();

        var burst = client.burst(distinctKeys(REQUESTS));

        var stats = hub.stats();
        assertThat(burst.maxOutstanding()).isEqualTo(REQUESTS);
        assertThat(stats.byStatus()).isEqualTo(burst.statusCounts()).containsOnlyKeys(200);
        assertThat(stats.totalRequests()).isEqualTo(REQUESTS);
        assertThat(stats.maxInFlight()).as("all requests overlap at the Hub").isEqualTo(burst.maxOutstanding());
        assertThat(stats.maxWindowRequests()).isEqualTo(REQUESTS);
        assertThat(stats.inFlight()).isZero();
        assertThat(stats.distinctKeys()).isEqualTo(REQUESTS);
        assertThat(stats.violations()).isEqualTo(HubStats.Violations.NONE);
    }

    @Test
    void refusesRequestsBeyondMaxInFlightWith429AndRetryAfter() throws Exception {
        hub = HubSimulator.builder().latencyMs(500).maxInFlight(50).retryAfterSecs(2).build().start();

        var burst = client.burst(distinctKeys(REQUESTS));

        assertThat(burst.count(200)).isEqualTo(50);
        assertThat(burst.count(429)).isEqualTo(REQUESTS - 50);
        assertThat(burst.withStatus(429))
                .allSatisfy(response -> assertThat(response.headers().firstValue("Retry-After")).hasValue("2"));
        var stats = hub.stats();
        assertThat(stats.byStatus()).isEqualTo(burst.statusCounts());
        assertThat(stats.violations().total()).isEqualTo(burst.count(429));
        assertThat(stats.violations().inFlight()).isEqualTo(burst.count(429));
        assertThat(stats.violations().window()).isZero();
        assertThat(stats.maxInFlight()).as("refused arrivals count too").isGreaterThanOrEqualTo(50);
        assertThat(stats.distinctKeys()).isEqualTo(50);
    }

    @Test
    void limitsNotEnforcedServeEveryRequestButReportTheOverrun() throws Exception {
        hub = HubSimulator.builder().latencyMs(400).maxInFlight(50).maxRequestsPerSecond(100)
                .enforceLimits(false).build().start();

        var burst = client.burst(distinctKeys(REQUESTS));

        assertThat(burst.statusCounts()).containsOnlyKeys(200);
        var stats = hub.stats();
        assertThat(stats.maxInFlight()).isEqualTo(REQUESTS);
        assertThat(stats.maxWindowRequests()).isEqualTo(REQUESTS);
        assertThat(stats.violations().inFlight()).isEqualTo(REQUESTS - 50);
        assertThat(stats.violations().window()).isEqualTo(REQUESTS - 100);
        assertThat(stats.violations().total()).isEqualTo(REQUESTS - 50);
    }
}
