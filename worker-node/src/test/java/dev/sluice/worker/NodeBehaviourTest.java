package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.stream.StreamJobQueue;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Node behaviours beyond the happy path: poison jobs, pool pressure, handler plug-ins, the Kafka sink. */
class NodeBehaviourTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private WorkerNode node(String... overrides) {
        SluiceConfig config = TestConfigs.config(redis.url(), overrides);
        WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry());
        closing.add(node);
        return node;
    }

    @Test
    void jobThatKeepsKillingItsWorkersIsDeadLetteredAsPoison() {
        // Three workers take the job and die with it in hand (they never complete it): each delivery is one crash.
        SluiceConfig ghostConfig = TestConfigs.config(redis.url(), "queue.visibility_timeout_secs", "1");
        try (RedisConnections connections = new RedisConnections(ghostConfig.redis(), "ghosts")) {
            StreamJobQueue first = new StreamJobQueue(ghostConfig.queue(), "ghost-1", connections, Clock.systemUTC());
            first.start();
            first.enqueue(List.of(Job.of("noop", "poison")));
            assertThat(first.fetch(1, Duration.ofSeconds(1))).hasSize(1);
            for (String ghost : List.of("ghost-2", "ghost-3")) {
                StreamJobQueue q = new StreamJobQueue(ghostConfig.queue(), ghost, connections, Clock.systemUTC());
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                        .until(() -> q.reclaim(10), got -> !got.isEmpty());
            }
        }
        WorkerNode node = node("node.id", "janitor", "queue.visibility_timeout_secs", "1", "queue.max_deliveries", "3");
        node.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().dead() == 1);
        DeadLetterEntry dead = node.queue().deadLetters(1).getFirst();
        assertThat(dead.reason()).startsWith("poison: delivered 4 times");
        assertThat(dead.jobId()).isEqualTo("noop:poison");
        assertThat(node.queue().stats().backlog()).isZero();
    }

    @Test
    void poolPressurePausesFetchingUntilItClears() throws Exception {
        WorkerNode node = node("node.id", "pressured", "redis.pool_size", "5");
        node.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> node.worker().inFlightCount() == 0);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch holding = new CountDownLatch(5);
        try (ExecutorService hogs = Executors.newFixedThreadPool(5)) {
            for (int i = 0; i < 5; i++) {
                hogs.submit(() -> node.redis().withJedis(j -> {
                    holding.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return null;
                }));
            }
            holding.await();
            await().atMost(Duration.ofSeconds(5)).until(() -> node.poolMonitor().isUnderPressure() && node.worker().fetcherIdle());
            try (Jedis j = redis.server().newJedis()) {
                for (int i = 0; i < 10; i++) {
                    j.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "p" + i, "type", "noop"));
                }
                await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(3))
                        .until(() -> j.xlen("sluice:jobs") == 10 && node.worker().inFlightCount() == 0);
                release.countDown();
                await().atMost(Duration.ofSeconds(10)).until(() -> j.xlen("sluice:jobs") == 0);
            }
            assertThat(node.poolMonitor().isUnderPressure()).isFalse();
        }
    }

    @Test
    void handlersFromOtherJarsAreFoundByServiceLoader() {
        WorkerNode node = node("node.id", "plugged");
        node.queue().enqueue(List.of(new Job("e-1", "echo", "k1", "{\"n\":1}", 0)));
        node.start();
        try (Jedis j = redis.server().newJedis()) {
            await().atMost(Duration.ofSeconds(10)).until(() -> j.exists("sluice:result:e-1"));
            assertThat(j.get("sluice:result:e-1")).isEqualTo("echo:k1:{\"n\":1}");
        }
    }

    @Test
    void kafkaSinkWritesOneRecordPerJobKeyedByJobId() {
        String topic = "results-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1, true);
        try (HubSimulator hub = HubSimulator.builder().build().start()) {
            WorkerNode node = node("node.id", "to-kafka", "sink.kind", "kafka", "sink.target", topic,
                    "kafka.bootstrap_servers", kafka.bootstrapServers(), "hub.base_url", hub.baseUrl(),
                    "hub.max_requests_per_second", "1000");
            node.queue().enqueue(List.of(Job.of("a"), Job.of("b"), Job.of("c")));
            node.start();
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "t-" + UUID.randomUUID(),
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                    ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
                consumer.subscribe(List.of(topic));
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    consumer.poll(Duration.ofMillis(200)).forEach(got::add);
                    return got.size() >= 3;
                });
            }
            assertThat(got).extracting(ConsumerRecord::key)
                    .containsExactlyInAnyOrder("hub-fetch:a", "hub-fetch:b", "hub-fetch:c");
            assertThat(got).allSatisfy(r -> assertThat(r.value()).contains("\"key\":\"" + r.key().substring(10) + "\""));
            await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().backlog() == 0);
        }
    }

    @Test
    void pooledConnectionsOlderThanTheLifetimeAreReplaced() {
        SluiceConfig config = TestConfigs.config(redis.url(), "redis.max_connection_lifetime_secs", "1");
        try (RedisConnections connections = new RedisConnections(config.redis(), "aging");
             Jedis observer = redis.server().newJedis()) {
            long first = connections.withJedis(Jedis::clientId);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                    .until(() -> !observer.clientList().contains("id=" + first + " "));
            long second = connections.withJedis(Jedis::clientId);
            assertThat(second).isNotEqualTo(first);
            assertThat(observer.clientList()).contains("name=sluice:aging:pool");
        }
    }

}
