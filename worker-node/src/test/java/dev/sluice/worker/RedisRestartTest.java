package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.testkit.RedisServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Redis with AOF (appendfsync everysec) is SIGKILLed mid-backfill and restarted: the node carries on alone. */
class RedisRestartTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().appendOnly(true)
            .appendFsync(RedisServer.AppendFsync.EVERYSEC).build();

    @Test
    void nodeReconnectsAfterRedisIsKilledAndRestartedAndLosesNothing() {
        int jobs = 3_000;
        try (HubSimulator hub = HubSimulator.builder().latencyMs(2).build().start()) {
            SluiceConfig config = TestConfigs.config(redis.url(), "node.id", "survivor", "hub.base_url", hub.baseUrl(),
                    "hub.max_concurrent_connections", "50", "hub.max_requests_per_second", "100000",
                    "node.concurrency", "100", "redis.connection_timeout_ms", "1000",
                    "retry.base_delay_ms", "50", "retry.max_delay_ms", "500", "retry.max_attempts", "20",
                    // A read whose reply died with the server leaves entries pending that the node never saw;
                    // the node reclaims them after this timeout.
                    "queue.visibility_timeout_secs", "3");
            try (WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry())) {
                node.queue().enqueue(IntStream.range(0, jobs).mapToObj(i -> Job.of("k" + i)).toList());
                node.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> results() >= 500);
                redis.server().kill();
                await().atMost(Duration.ofSeconds(5)).until(() -> node.redis().errors() > 0);
                redis.server().start();
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> results() >= jobs);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                        .failFast(() -> false)
                        .until(() -> node.queue().stats(), s -> s.backlog() == 0);
                assertThat(node.queue().stats().dead()).isZero();
            }
        }
        try (Jedis j = redis.server().newJedis()) {
            for (int i = 0; i < jobs; i++) {
                assertThat(j.exists("sluice:result:hub-fetch:k" + i)).as("result of k" + i).isTrue();
            }
        }
    }

    private static long results() {
        try (Jedis j = redis.server().newJedis()) {
            return j.keys("sluice:result:*").size();
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
