package dev.sluice.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.list.ListJobQueue;
import dev.sluice.worker.queue.stream.StreamJobQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import redis.clients.jedis.Jedis;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code queue stats}, {@code dlq list} and {@code dlq replay} against a real Redis, in both queue modes. */
class QueueAndDlqCommandsTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    private String config(String mode) {
        return TestConfig.forRedis(dir, redis.url(), mode).toString();
    }

    /** A queue adapter as a worker node named {@code node} holds it. */
    private JobQueue nodeQueue(String mode, String node) {
        SluiceConfig c = ConfigLoader.load(Path.of(config(mode)), Map.of());
        RedisConnections connections = new RedisConnections(c.redis(), node);
        JobQueue q = mode.equals("list")
                ? new ListJobQueue(c.queue(), node, connections, Clock.systemUTC(),
                        new RecordWatch(Duration.ofMillis(c.node().leaseMs()), System::nanoTime))
                : new StreamJobQueue(c.queue(), node, connections, Clock.systemUTC());
        open.add(connections);
        open.add(q);
        q.start();
        return q;
    }

    private static CliRun ok(String... args) {
        CliRun run = CliRun.run(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    @ParameterizedTest
    @ValueSource(strings = {"stream", "list"})
    void statsShowWaitingPendingAndDeadJobs(String mode) throws Exception {
        ok("enqueue", "--config", config(mode), "--range", "1..10");
        JobQueue node = nodeQueue(mode, "node-a");
        List<Delivery> taken = node.fetch(3, Duration.ofMillis(100));
        assertThat(taken).hasSize(3);
        node.complete(List.of(new Completion.DeadLetter(taken.getFirst(), ErrorKind.HUB_REJECTED, "Hub answered 404", 1)));

        JsonNode stats = JSON.readTree(ok("queue", "stats", "--config", config(mode), "--json").out());

        assertThat(stats.get("mode").asText()).isEqualTo(mode);
        assertThat(stats.get("key").asText()).isEqualTo(mode.equals("list") ? "sluice:queue" : "sluice:jobs");
        assertThat(stats.get("waiting").asLong()).isEqualTo(7);
        assertThat(stats.get("pending").asLong()).isEqualTo(2);
        assertThat(stats.get("delayed").asLong()).isZero();
        assertThat(stats.get("dead").asLong()).isEqualTo(1);
        assertThat(stats.get("pendingByConsumer").get("node-a").asLong()).isEqualTo(2);
        if (mode.equals("stream")) {
            assertThat(stats.get("oldestWaitingAgeMs").asLong()).isGreaterThanOrEqualTo(0);
        }

        String text = ok("queue", "stats", "--config", config(mode)).out();
        assertThat(text).startsWith(mode.equals("list") ? "list sluice:queue\n" : "stream sluice:jobs, group sluice\n")
                .containsPattern("waiting +7\\R")
                .containsPattern("pending +2\\R")
                .containsPattern("dead +1 \\(in sluice:dead\\)")
                .containsPattern("node-a +2");
    }

    @Test
    void statsOfAnEmptyQueue() throws Exception {
        JsonNode stats = JSON.readTree(ok("queue", "stats", "--config", config("stream"), "--json").out());

        assertThat(stats.get("waiting").asLong()).isZero();
        assertThat(stats.get("pending").asLong()).isZero();
        assertThat(stats.get("oldestWaitingAgeMs").asLong()).isZero();
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.exists("sluice:jobs")).as("stats is read-only: it creates no stream").isFalse();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"stream", "list"})
    void listsDeadLettersNewestFirstAndReplaysThemById(String mode) throws Exception {
        ok("enqueue", "--config", config(mode), "a", "b", "c");
        JobQueue node = nodeQueue(mode, "node-a");
        List<Delivery> taken = node.fetch(3, Duration.ofMillis(100));
        assertThat(taken).hasSize(3);
        List<Completion> dead = new ArrayList<>();
        for (Delivery d : taken) {
            dead.add(new Completion.DeadLetter(d, ErrorKind.HUB_REJECTED, "Hub answered 404 for " + d.job().key(), 2));
        }
        node.complete(dead);

        JsonNode list = JSON.readTree(ok("dlq", "list", "--config", config(mode), "--json").out());

        assertThat(list).hasSize(3);
        List<String> jobIds = new ArrayList<>();
        list.forEach(e -> jobIds.add(e.get("jobId").asText()));
        assertThat(jobIds).containsExactly("hub-fetch:c", "hub-fetch:b", "hub-fetch:a");
        JsonNode newest = list.get(0);
        assertThat(newest.get("kind").asText()).isEqualTo("hub-rejected");
        assertThat(newest.get("reason").asText()).isEqualTo("Hub answered 404 for c");
        assertThat(newest.get("attempts").asInt()).isEqualTo(2);
        assertThat(newest.get("node").asText()).isEqualTo("node-a");
        assertThat(newest.get("at").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");

        assertThat(JSON.readTree(ok("dlq", "list", "--config", config(mode), "--json", "--count", "1").out())).hasSize(1);
        String table = ok("dlq", "list", "--config", config(mode)).out();
        assertThat(table.lines().toList()).hasSize(4);
        assertThat(table.lines().findFirst().orElseThrow()).matches("ID +JOB ID +KIND +ATTEMPTS +NODE +TIME +REASON");
        assertThat(table).contains("hub-fetch:a").contains("hub-rejected").contains("Hub answered 404 for a");

        String idOfB = list.get(1).get("id").asText();
        CliRun replay = ok("dlq", "replay", "--config", config(mode), idOfB);

        assertThat(replay.out()).isEqualTo("replayed 1 dead letter to " + (mode.equals("list") ? "list sluice:queue" : "stream sluice:jobs") + "\n");
        JsonNode after = JSON.readTree(ok("dlq", "list", "--config", config(mode), "--json").out());
        assertThat(after).hasSize(2);
        List<Delivery> again = node.fetch(10, Duration.ofMillis(100));
        assertThat(again).extracting(d -> d.job().id()).containsExactly("hub-fetch:b");
        assertThat(again.getFirst().job().attempts()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"stream", "list"})
    void replaysAllDeadLetters(String mode) {
        ok("enqueue", "--config", config(mode), "--range", "1..1200");
        JobQueue node = nodeQueue(mode, "node-a");
        List<Completion> dead = new ArrayList<>();
        while (dead.size() < 1200) {
            for (Delivery d : node.fetch(500, Duration.ofMillis(100))) {
                dead.add(new Completion.DeadLetter(d, ErrorKind.BAD_JOB, "test", 0));
            }
        }
        node.complete(dead);

        CliRun replay = ok("dlq", "replay", "--config", config(mode), "--all");

        assertThat(replay.out()).startsWith("replayed 1200 dead letters to ");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xlen("sluice:dead")).isZero();
            if (mode.equals("list")) {
                assertThat(j.llen("sluice:queue")).isEqualTo(1200);
            } else {
                assertThat(j.xlen("sluice:jobs")).isEqualTo(1200);
            }
        }
        assertThat(ok("dlq", "list", "--config", config(mode)).out()).isEqualTo("no dead letters in sluice:dead\n");
    }

    @Test
    void replayOfUnknownIdsSaysWhichAndExitsOne() {
        CliRun run = CliRun.run("dlq", "replay", "--config", config("stream"), "1-1", "2-2");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).isEqualTo("replayed 0 dead letters to stream sluice:jobs\n");
        assertThat(run.err()).contains("2 not replayed").contains("1-1, 2-2");
    }

    @Test
    void replayNeedsIdsOrAllButNotBoth() {
        assertThat(CliRun.run("dlq", "replay", "--config", config("stream")).exitCode()).isEqualTo(2);
        CliRun both = CliRun.run("dlq", "replay", "--config", config("stream"), "--all", "1-1");
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.err()).contains("Give either --all or IDs, not both");
        assertThat(CliRun.run("dlq", "list", "--config", config("stream"), "--count", "0").exitCode()).isEqualTo(2);
    }

}
