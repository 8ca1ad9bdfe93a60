package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.XAddParams;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Job data is exact bytes: what is not UTF-8 is dead-lettered with that reason and its bytes unchanged, in both
 * queue modes, never run with a changed key; a list element too large to read is dead-lettered where it lies.
 */
class UntrustedEntriesTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static final byte[] NOT_UTF8 = {'u', 's', 'e', 'r', '-', (byte) 0xff, (byte) 0xfe, '!'};

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private WorkerNode node(HubSimulator hub, String... more) {
        List<String> all = new ArrayList<>(List.of("hub.base_url", hub.baseUrl(), "redis.pool_size", "5",
                "hub.max_requests_per_second", "2000", "hub.max_concurrent_connections", "20"));
        all.addAll(List.of(more));
        SluiceConfig config = TestConfigs.config(redis.url(), all.toArray(String[]::new));
        WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry());
        closing.add(node);
        node.start();
        return node;
    }

    private HubSimulator hub() {
        HubSimulator hub = HubSimulator.builder().build().start();
        closing.add(hub);
        return hub;
    }

    /** A field of the first dead letter, as the bytes Redis holds. */
    private static byte[] firstDeadLetterField(Jedis j, String name) {
        List<Object> entries = j.xrange("sluice:dead".getBytes(StandardCharsets.UTF_8), "-".getBytes(StandardCharsets.UTF_8),
                "+".getBytes(StandardCharsets.UTF_8));
        List<?> fields = (List<?>) ((List<?>) entries.getFirst()).get(1);
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            if (Arrays.equals((byte[]) fields.get(i), name.getBytes(StandardCharsets.UTF_8))) {
                return (byte[]) fields.get(i + 1);
            }
        }
        throw new AssertionError("the dead letter has no field " + name);
    }

    private static long results() {
        try (Jedis j = redis.server().newJedis()) {
            return j.keys("sluice:result:*").size();
        }
    }

    @Test
    void streamModeDeadLettersAKeyThatIsNotUtf8WithItsExactBytesAndNeverCallsTheHubWithIt() {
        HubSimulator hub = hub();
        WorkerNode node = node(hub);
        try (Jedis j = redis.server().newJedis()) {
            j.xadd("sluice:jobs".getBytes(StandardCharsets.UTF_8), XAddParams.xAddParams(),
                    Map.of("key".getBytes(StandardCharsets.UTF_8), NOT_UTF8));
        }
        node.queue().enqueue(WorkerNodeTest.jobs("hub-fetch", 10));
        await().atMost(Duration.ofSeconds(20)).until(() -> results() == 10 && node.queue().stats().dead() == 1);

        assertThat(node.queue().deadLetters(1).getFirst().reason()).isEqualTo("field 'key' is not valid UTF-8");
        try (Jedis j = redis.server().newJedis()) {
            byte[] kept = firstDeadLetterField(j, "key");
            assertThat(kept).as("the key's bytes, unchanged").isEqualTo(NOT_UTF8);
        }
        assertThat(hub.stats().totalRequests()).as("the Hub saw only the ten good jobs").isEqualTo(10);
        assertThat(node.queue().stats().backlog()).isZero();
    }

    @Test
    void listModeDeadLettersAnElementThatIsNotUtf8AndTakesItOffTheProcessingList() {
        HubSimulator hub = hub();
        WorkerNode node = node(hub, "queue.mode", "list");
        try (Jedis j = redis.server().newJedis()) {
            j.lpush("sluice:queue".getBytes(StandardCharsets.UTF_8), NOT_UTF8);
        }
        node.queue().enqueue(WorkerNodeTest.jobs("hub-fetch", 10));
        await().atMost(Duration.ofSeconds(20)).until(() -> results() == 10 && node.queue().stats().dead() == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> node.queue().stats().pending() == 0);

        assertThat(node.queue().deadLetters(1).getFirst().reason()).isEqualTo("element is not valid UTF-8");
        try (Jedis j = redis.server().newJedis()) {
            byte[] kept = firstDeadLetterField(j, "element");
            assertThat(kept).isEqualTo(NOT_UTF8);
            assertThat(j.llen("sluice:queue:processing:" + node.config().node().id())).isZero();
        }
        assertThat(hub.stats().totalRequests()).isEqualTo(10);
    }

    @Test
    void listModeDeadLettersAnElementTooLargeToReadWhereItLies() {
        HubSimulator hub = hub();
        char[] big = new char[8 * 1024 * 1024];
        Arrays.fill(big, 'y');
        try (Jedis j = redis.server().newJedis()) {
            // Waiting before the node starts, so one fetch moves all three and the big one lies between the others.
            j.lpush("sluice:queue", "first");
            j.lpush("sluice:queue", new String(big));
            j.lpush("sluice:queue", "last");
        }
        WorkerNode node = node(hub, "queue.mode", "list");
        await().atMost(Duration.ofSeconds(20)).until(() -> results() == 2 && node.queue().stats().dead() == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> node.queue().stats().pending() == 0);
        assertThat(node.queue().buriedUnread()).isEqualTo(1);
        try (Jedis j = redis.server().newJedis()) {
            Map<String, String> dead = j.xrange("sluice:dead", "-", "+").getFirst().getFields();
            assertThat(dead).containsEntry("dead.bytes", Integer.toString(big.length)).containsEntry("dead.truncated", "1")
                    .containsKey("dead.sha256.element");
            assertThat(dead.get("element")).hasSize(1024);
            assertThat(j.exists("sluice:result:hub-fetch:first", "sluice:result:hub-fetch:last")).isEqualTo(2);
        }
    }

    @Test
    void aLargeButValidJobThatDiesKeepsItsWholeJobAndCanBeReplayed() {
        HubSimulator hub = hub();
        WorkerNode node = node(hub, "hub.path", "/no-such-api/{key}");
        String payload = "{\"blob\":\"" + "z".repeat(40_000) + "\"}";
        node.queue().enqueue(List.of(new Job("big-1", "hub-fetch", "k-big", payload, 0)));
        await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().dead() == 1);
        try (Jedis j = redis.server().newJedis()) {
            Map<String, String> dead = j.xrange("sluice:dead", "-", "+").getFirst().getFields();
            assertThat(dead).doesNotContainKey("dead.truncated").containsEntry("payload", payload);
        }
        assertThat(node.queue().replayDeadLetters(List.of(node.queue().deadLetters(1).getFirst().id()))).isEqualTo(1);
    }

    @Test
    void listModeRunsTheSameElementTwiceAndLeavesNothingBehind() {
        HubSimulator hub = hub();
        WorkerNode node = node(hub, "queue.mode", "list");
        try (Jedis j = redis.server().newJedis()) {
            j.lpush("sluice:queue", "twice", "twice", "once");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> hub.stats().totalRequests() == 3);
        await().atMost(Duration.ofSeconds(10)).until(() -> node.queue().stats().backlog() == 0);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.llen("sluice:queue:processing:" + node.config().node().id())).isZero();
        }
    }

    @Test
    void listModeTakesBackWhatAnEarlierProcessOfItsIdLeftInFlight() {
        HubSimulator hub = hub();
        try (Jedis j = redis.server().newJedis()) {
            // As a SIGKILLed process of node "again" left them.
            j.lpush("sluice:queue:processing:again", "left-1", "left-2");
        }
        WorkerNode node = node(hub, "queue.mode", "list", "node.id", "again");
        await().atMost(Duration.ofSeconds(20)).until(() -> results() == 2);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.llen("sluice:queue:processing:again")).isZero();
        }
        assertThat(node.queue().stats().backlog()).isZero();
    }
}
