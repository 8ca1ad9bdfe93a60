package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.OptionalLong;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;

@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisServerTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder()
            .appendOnly(true)
            .appendFsync(RedisServer.AppendFsync.ALWAYS)
            .build();

    @Test
    @Order(1)
    void startsARealServerThatStoresAndReturnsValues(RedisServer server) {
        assertThat(server.isRunning()).isTrue();
        assertThat(server.url()).isEqualTo("redis://" + server.host() + ":" + server.port());
        assertThat(redis.server()).isSameAs(server);
        try (Jedis jedis = server.newJedis()) {
            jedis.set("job:1", "queued");
            assertThat(jedis.get("job:1")).isEqualTo("queued");
        }
    }

    @Test
    @Order(1)
    void runsWithTheAppendOnlySettingsItWasBuiltWith(RedisServer server) {
        assumeTrue(server.mode() != RedisServer.Mode.EXTERNAL, "an external server has its own settings");
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.configGet("appendonly")).containsEntry("appendonly", "yes");
            assertThat(jedis.configGet("appendfsync")).containsEntry("appendfsync", "always");
        }
    }

    @Test
    @Order(2)
    void keysOfAnEarlierTestAreGone(RedisServer server) {
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.exists("job:1")).isFalse();
            assertThat(jedis.dbSize()).isZero();
        }
    }

    @Test
    @Order(3)
    void stopThenStartComesBackOnTheSamePortWithTheData(RedisServer server) {
        int port = server.port();
        try (Jedis jedis = server.newJedis()) {
            jedis.set("survives", "graceful stop");
        }

        server.stop();

        assertThat(server.isRunning()).isFalse();
        assertThatThrownBy(() -> {
            try (Jedis jedis = new Jedis(server.host(), port, RedisServer.clientConfig(500).build())) {
                jedis.ping();
            }
        }).isInstanceOf(JedisConnectionException.class);

        server.start();

        assertThat(server.port()).isEqualTo(port);
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.get("survives")).isEqualTo("graceful stop");
        }
    }

    @Test
    @Order(4)
    void sigkillThenRestartKeepsWhatTheAofHadFsynced(RedisServer server) {
        assumeTrue(server.mode() == RedisServer.Mode.LOCAL, "checks the redis-server process itself");
        int port = server.port();
        try (Jedis jedis = server.newJedis()) {
            for (int i = 0; i < 100; i++) {
                jedis.rpush("backlog", "job-" + i);
            }
        }
        OptionalLong pid = server.pid();
        assertThat(pid).isPresent();

        server.kill();

        assertThat(server.isRunning()).isFalse();
        assertThat(ProcessHandle.of(pid.getAsLong()).filter(ProcessHandle::isAlive)).isEmpty();

        server.start();

        assertThat(server.port()).isEqualTo(port);
        assertThat(server.pid()).isPresent().isNotEqualTo(pid);
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.llen("backlog")).isEqualTo(100);
            assertThat(jedis.lindex("backlog", 99)).isEqualTo("job-99");
        }
    }

    @Test
    @Order(5)
    void aTestMayLeaveTheServerKilled(RedisServer server) {
        server.kill();
        assertThat(server.isRunning()).isFalse();
    }

    @Test
    @Order(6)
    void theNextTestFindsItRunningAgainAndFlushed(RedisServer server) {
        assertThat(server.isRunning()).isTrue();
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.dbSize()).isZero();
        }
    }

    @Test
    @Order(7)
    void restartWaitsUntilTheServerAnswers(RedisServer server) {
        server.restart();
        try (Jedis jedis = server.newJedis()) {
            assertThat(jedis.ping()).isEqualTo("PONG");
        }
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(5)).until(server::isRunning);
    }
}
