package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.hub.BreakerListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A Hub outage seen by a whole node: the breaker opens, fetching pauses, and every job is done once it is over. */
class BreakerOutageTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static long results() {
        try (Jedis j = redis.server().newJedis()) {
            return j.keys("sluice:result:*").size();
        }
    }

    @Test
    void jobsDuringAnOutageAreDoneAfterItAndNoneIsDeadLettered() {
        try (HubSimulator hub = HubSimulator.builder().build().start()) {
            hub.startOutage(503);
            SluiceConfig config = TestConfigs.config(redis.url(), "hub.base_url", hub.baseUrl(), "node.id", "outage",
                    "breaker.failure_threshold", "5", "breaker.open_secs", "1", "breaker.half_open_calls", "1",
                    "retry.base_delay_ms", "20", "retry.max_delay_ms", "300", "retry.max_attempts", "3",
                    "hub.max_requests_per_second", "1000", "hub.max_concurrent_connections", "1",
                    "node.drain_timeout_secs", "2");
            try (WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry())) {
                List<BreakerListener.Transition> transitions = new CopyOnWriteArrayList<>();
                node.hub().addBreakerListener(transitions::add);
                node.start();
                node.queue().enqueue(WorkerNodeTest.jobs("hub-fetch", 20));

                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                        .until(() -> node.worker().pausedBy().contains("breaker-open"));
                assertThat(transitions.getFirst().to()).isEqualTo(BreakerListener.State.OPEN);
                assertThat(transitions.getFirst().failedCalls()).isEqualTo(5);
                assertThat(hub.stats().count(503)).as("calls before it opened: one at a time, so exactly five").isEqualTo(5);

                // The outage outlasts a few half-open trials, each of which fails and opens the breaker again.
                await().atMost(Duration.ofSeconds(15)).until(() -> transitions.stream()
                        .filter(t -> t.to() == BreakerListener.State.OPEN).count() >= 3);
                assertThat(node.queue().stats().dead()).isZero();
                long duringOutage = hub.stats().totalRequests();
                hub.endOutage();

                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> results() == 20);
                assertThat(node.queue().stats().dead()).as("dead-lettered for the outage").isZero();
                assertThat(transitions.getLast().to()).isEqualTo(BreakerListener.State.CLOSED);
                assertThat(node.worker().pausedBy()).doesNotContain("breaker-open");
                assertThat(duringOutage).as("5 failures plus one trial per opening").isBetween(7L, 5L + 20);
                assertThat(hub.stats().count(200)).isEqualTo(20);
            }
        }
    }
}
