package dev.sluice.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.resps.StreamEntry;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeout;

class EnqueueCommandTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path streamConfig() {
        return TestConfig.forRedis(dir, redis.url(), "stream");
    }

    private List<StreamEntry> stream() {
        try (Jedis j = redis.server().newJedis()) {
            return j.xrange("sluice:jobs", "-", "+");
        }
    }

    @Test
    void enqueuesKeysFromArgumentsFileStdinAndRangeInThatOrder() throws IOException {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "f1\n\n  f2  \nf3\n");

        CliRun run = CliRun.run(Map.of(), "s1\ns2\n", "enqueue", "--config", streamConfig().toString(),
                "a1", "a2", "--file", keys.toString(), "--stdin", "--range", "1..3", "--prefix", "user-");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).matches("enqueued 10 jobs to stream sluice:jobs in \\d+\\.\\d\\d s \\(\\d+ jobs/s\\) as backfill "
                + "enqueue-\\d{8}-\\d{6}-[a-z]{4}\\R");
        List<StreamEntry> entries = stream();
        assertThat(entries).extracting(e -> e.getFields().get("key")).containsExactly(
                "user-a1", "user-a2", "user-f1", "user-f2", "user-f3", "user-s1", "user-s2", "user-1", "user-2", "user-3");
        assertThat(entries.getFirst().getFields()).containsEntry("type", "hub-fetch")
                .containsEntry("id", "hub-fetch:user-a1").containsEntry("attempts", "0").containsEntry("v", "1");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xlen("sluice:jobs")).isEqualTo(10);
            assertThat(j.xinfoGroups("sluice:jobs")).extracting(g -> g.getName()).containsExactly("sluice");
        }
    }

    @Test
    void aBackfillIsRecordedWithItsIdTotalWhoAndRedisTimeAndEveryJobCarriesItsId() {
        long before;
        try (Jedis j = redis.server().newJedis()) {
            before = Long.parseLong(j.time().get(0)) * 1000;
        }
        CliRun run = CliRun.run("enqueue", "--config", streamConfig().toString(), "--range", "1..2500",
                "--batch", "nightly-7", "--by", "alice");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("as backfill nightly-7");
        assertThat(stream()).hasSize(2500).allSatisfy(e -> assertThat(e.getFields()).containsEntry("batch", "nightly-7"));
        try (Jedis j = redis.server().newJedis()) {
            Map<String, String> b = j.hgetAll("sluice:jobs:backfill:nightly-7");
            assertThat(b).containsEntry("total", "2500").containsEntry("state", "complete").containsEntry("by", "alice")
                    .containsEntry("done", "0").containsEntry("dead", "0").doesNotContainKey("reserved");
            assertThat(Long.parseLong(b.get("at"))).isBetween(before, before + 60_000);
            assertThat(j.zrange("sluice:jobs:backfills", 0, -1)).containsExactly("nightly-7");
        }

        CliRun again = CliRun.run("enqueue", "--config", streamConfig().toString(), "k", "--batch", "nightly-7");
        assertThat(again.exitCode()).as(again.toString()).isEqualTo(2);
        assertThat(again.err()).contains("backfill 'nightly-7' exists on stream sluice:jobs; give a new id with --batch");
        assertThat(stream()).as("nothing of the refused run went in").hasSize(2500);

        CliRun bad = CliRun.run("enqueue", "--config", streamConfig().toString(), "k", "--batch", "night 7");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--batch: a backfill id must be 1 to 64 letters, digits, '.', '_' or '-'")
                .contains("but was 'night 7'");
        assertThat(stream()).hasSize(2500);
    }

    @Test
    void anEnqueueStoppedBySigtermMarksItsBackfillStoppedWithTheJobsItCannotVouchFor() {
        try (NodeProcess enqueue = NodeProcess.forMainClass(Main.class)
                .args("enqueue", "--range", "1..100000000", "--batch", "interrupted")
                .env("SLUICE_REDIS_URL", redis.url()).maxHeap("128m").start();
             Jedis j = redis.server().newJedis()) {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
                    .until(() -> Long.parseLong(j.hget("sluice:jobs:backfill:interrupted", "total") == null ? "0"
                            : j.hget("sluice:jobs:backfill:interrupted", "total")) > 5_000);
            enqueue.terminate();
            assertThat(enqueue.waitFor(Duration.ofSeconds(30))).as(enqueue.log()).isNotZero();

            Map<String, String> b = j.hgetAll("sluice:jobs:backfill:interrupted");
            assertThat(b).as(enqueue.log()).containsEntry("state", "stopped");
            long total = Long.parseLong(b.get("total"));
            long uncertain = Long.parseLong(b.getOrDefault("uncertain", "0")) + Long.parseLong(b.getOrDefault("reserved", "0"));
            long inQueue = j.xlen("sluice:jobs");
            assertThat(inQueue).as("jobs in the queue against the total %d, %d of it uncertain", total, uncertain)
                    .isBetween(total - uncertain, total);
        }
    }

    @Test
    void enqueuesALargeRangeInBatchesOfAThousand() {
        CliRun run = CliRun.run("enqueue", "--config", streamConfig().toString(), "--range", "1..2500", "--type", "noop");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("enqueued 2500 jobs to stream sluice:jobs in ");
        List<StreamEntry> entries = stream();
        assertThat(entries).hasSize(2500);
        assertThat(entries).extracting(e -> e.getFields().get("key"))
                .containsExactlyElementsOf(IntStream.rangeClosed(1, 2500).mapToObj(Integer::toString).toList());
        assertThat(entries).allSatisfy(e -> assertThat(e.getFields()).containsEntry("type", "noop"));
        assertThat(entries.get(41).getFields()).containsEntry("id", "noop:42");
    }

    @Test
    void enqueuesJsonElementsOnTheListInListMode() throws IOException {
        Path config = TestConfig.forRedis(dir, redis.url(), "list");

        CliRun run = CliRun.run(Map.of(), "x\n", "enqueue", "--config", config.toString(), "k1", "--stdin",
                "--range", "7..8");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("enqueued 4 jobs to list sluice:queue in ");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.exists("sluice:jobs")).isFalse();
            List<String> elements = j.lrange("sluice:queue", 0, -1);
            // LPUSH: the first job sits at the consuming (right) end.
            List<String> keys = new ArrayList<>();
            for (String element : elements.reversed()) {
                JsonNode job = JSON.readTree(element);
                keys.add(job.get("key").asText());
                assertThat(job.get("type").asText()).isEqualTo("hub-fetch");
                assertThat(job.get("id").asText()).isEqualTo("hub-fetch:" + job.get("key").asText());
            }
            assertThat(keys).containsExactly("k1", "x", "7", "8");
            // The session registered no node that outlives it.
            assertThat(j.smembers("sluice:queue:nodes")).isEmpty();
        }
    }

    @Test
    void readsEnvironmentOverridesWithoutAConfigFile() {
        CliRun run = CliRun.run(Map.of("SLUICE_REDIS_URL", redis.url(), "SLUICE_QUEUE_STREAM", "other:jobs"), "",
                "enqueue", "k");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("enqueued 1 jobs to stream other:jobs in ");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.xlen("other:jobs")).isEqualTo(1);
        }
    }

    @Test
    void emptyInputEnqueuesNothing() {
        CliRun run = CliRun.run(Map.of(), "\n\n", "enqueue", "--config", streamConfig().toString(), "--stdin");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("enqueued 0 jobs to stream sluice:jobs");
    }

    @Test
    void usageErrorsExitWithTwoBeforeTouchingRedis() {
        String config = streamConfig().toString();

        assertThat(CliRun.run("enqueue", "--config", config)).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("Give keys: KEY..., --file F, --stdin or --range START..END").contains("Usage:");
        });
        assertThat(CliRun.run("enqueue", "--config", config, "--range", "5..1")).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("END must not be less than START, but was 5..1");
        });
        assertThat(CliRun.run("enqueue", "--config", config, "--range", "one..two")).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("must look like START..END");
        });
        assertThat(CliRun.run("enqueue", "--config", config, "--type", "Not A Type", "k")).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("--type must be a handler name");
        });
        assertThat(CliRun.run("enqueue", "--config", config, "--file", dir.resolve("missing.txt").toString())).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("missing.txt is not a readable file");
        });
        assertThat(CliRun.run("enqueue", "--config", config, "--no-such-option", "k")).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("Unknown option: '--no-such-option'");
        });
        assertThat(stream()).isEmpty();
    }

    @Test
    void anInvalidKeyStopsTheCommandAndSaysWhere() throws IOException {
        Path keys = Files.writeString(dir.resolve("keys.txt"), "ok\n" + "k".repeat(1025) + "\n");

        CliRun run = CliRun.run("enqueue", "--config", streamConfig().toString(), "--file", keys.toString());

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).startsWith("sluice: " + keys + " line 2: field 'key' must be at most 1024 characters")
                .contains("0 jobs were enqueued before it");
        assertThat(stream()).isEmpty();
    }

    @Test
    void unreachableRedisIsOneLineAndExitOne() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Path config = TestConfig.forRedis(dir, "redis://:pw@127.0.0.1:" + closedPort, "stream");

        CliRun run = CliRun.run("enqueue", "--config", config.toString(), "k");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).isEqualTo("sluice: cannot reach Redis at redis://:***@127.0.0.1:" + closedPort
                + ": Failed to connect to 127.0.0.1:" + closedPort + " (Connection refused)" + System.lineSeparator());

        CliRun verbose = CliRun.run("enqueue", "--config", config.toString(), "k", "--verbose");
        assertThat(verbose.exitCode()).isEqualTo(1);
        assertThat(verbose.err()).contains("sluice: cannot reach Redis").contains("\tat ").doesNotContain(":pw@");
    }

    @Test
    void workerExitsAtOnceWhenRedisIsUnreachable() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Path config = TestConfig.write(dir, "worker.toml", """
                [redis]
                url = "redis://127.0.0.1:%d"
                [metrics]
                port = 0
                bind = "127.0.0.1"
                """.formatted(closedPort));

        // Regression: closing a node whose start failed waited 5.5 s for a fetcher that never ran.
        CliRun run = assertTimeout(java.time.Duration.ofSeconds(4), () -> CliRun.run("worker", "--config", config.toString()));

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).isEqualTo("sluice: cannot reach Redis at redis://127.0.0.1:" + closedPort
                + ": Failed to connect to 127.0.0.1:" + closedPort + " (Connection refused)" + System.lineSeparator());
    }

    @Test
    void redisFillingUpMidwayStopsTheCommandWithExitOneAndTheExactCountRedisAccepted() {
        try (Jedis j = redis.server().newJedis()) {
            j.del("sluice:jobs");
            long used = Long.parseLong(j.info("memory").lines().filter(l -> l.startsWith("used_memory:"))
                    .findFirst().orElseThrow().substring("used_memory:".length()).strip());
            j.configSet("maxmemory-policy", "noeviction");
            j.configSet("maxmemory", Long.toString(used + 2_000_000));
        }
        try {
            CliRun run = CliRun.run("enqueue", "--config", streamConfig().toString(), "--range", "1..50000");

            assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
            long stored;
            try (Jedis j = redis.server().newJedis()) {
                stored = j.xlen("sluice:jobs");
            }
            assertThat(stored).isBetween(1L, 49_999L);
            assertThat(run.err()).contains("Redis refused").contains("OOM")
                    .contains("enqueued " + stored + " jobs in all, the rest were not enqueued");
            assertThat(run.out()).doesNotContain("enqueued 50000");
            try (Jedis j = redis.server().newJedis()) {
                String id = j.zrange("sluice:jobs:backfills", 0, -1).getLast();
                assertThat(j.hgetAll("sluice:jobs:backfill:" + id))
                        .as("the total is what Redis took, and the backfill says its enqueue stopped, though Redis is full")
                        .containsEntry("total", Long.toString(stored)).containsEntry("state", "stopped")
                        .doesNotContainKey("reserved");
            }
        } finally {
            try (Jedis j = redis.server().newJedis()) {
                j.configSet("maxmemory", "0");
            }
        }
    }
}
