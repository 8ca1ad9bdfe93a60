package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The seed's failure, turned into a test: 500 concurrent jobs against a pool of 5. The node must not starve its
 * pool, and Redis must never see more than 4 connections from it, in either queue mode (list mode reads the other
 * nodes' records on the fetcher's connection).
 */
class PoolBudgetTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @ParameterizedTest(name = "{0} mode")
    @ValueSource(strings = {"stream", "list"})
    void concurrency500WithPoolOf5NeverTimesOutAndUsesAtMostFourConnections(String mode) throws Exception {
        try (HubSimulator hub = HubSimulator.builder().latencyMs(20).jitterMs(10).build().start()) {
            SluiceConfig config = TestConfigs.config(redis.url(), "queue.mode", mode, "node.id", "budget",
                    "node.concurrency", "500",
                    "redis.pool_size", "5", "hub.base_url", hub.baseUrl(), "hub.max_concurrent_connections", "500",
                    "hub.max_requests_per_second", "100000", "sink.kind", "redis");
            SimpleMeterRegistry meters = new SimpleMeterRegistry();
            int jobs = 6_000;
            AtomicInteger maxConnections = new AtomicInteger();
            long sampler;
            try (Jedis observer = redis.server().newJedis(); WorkerNode node = TestConfigs.standaloneNode(config, meters)) {
                sampler = observer.clientId();
                node.queue().enqueue(IntStream.range(0, jobs).mapToObj(i -> Job.of("k" + i)).toList());
                node.start();
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(20)).until(() -> {
                    maxConnections.accumulateAndGet(nodeConnections(observer, sampler), Math::max);
                    return observer.keys("sluice:result:*").size() >= jobs;
                });
                assertThat(node.redis().borrowTimeouts()).as("pool borrow timeouts").isZero();
                Timer borrowWait = meters.get("sluice.redis.pool.borrow.wait").timer();
                double p99Ms = p99(borrowWait);
                assertThat(borrowWait.count()).isPositive();
                assertThat(p99Ms).as("borrow wait p99 (ms)").isLessThan(50.0);
                assertThat(hub.stats().count(200)).isEqualTo(jobs);
            }
            assertThat(maxConnections.get()).as("connections Redis saw from the node at once").isBetween(1, 4);
        }
    }

    /** Every client Redis lists except the observer's own: the node is the only other client of this server. */
    private static int nodeConnections(Jedis observer, long observerId) {
        int n = 0;
        for (String line : observer.clientList().split("\n")) {
            if (line.isBlank() || line.contains("id=" + observerId + " ")) {
                continue;
            }
            n++;
        }
        return n;
    }

    private static double p99(Timer timer) {
        for (ValueAtPercentile v : timer.takeSnapshot().percentileValues()) {
            if (v.percentile() == 0.99) {
                return v.value(TimeUnit.MILLISECONDS);
            }
        }
        throw new AssertionError("no p99 published for " + timer.getId());
    }

}
