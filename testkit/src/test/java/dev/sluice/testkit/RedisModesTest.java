package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.opentest4j.TestAbortedException;
import org.testcontainers.DockerClientFactory;
import redis.clients.jedis.Jedis;

/** How {@value RedisServer#MODE_ENV} selects the server, and how each mode fails or aborts. */
class RedisModesTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @Test
    void unsetOrLocalMeansALocalRedisServer() {
        assertThat(RedisServer.builder().environment(Map.of()).build().mode()).isEqualTo(RedisServer.Mode.LOCAL);
        assertThat(RedisServer.builder().environment(Map.of(RedisServer.MODE_ENV, "local")).build().mode())
                .isEqualTo(RedisServer.Mode.LOCAL);
    }

    @Test
    void aRedisUrlMeansThatExternalServer() {
        RedisServer server = RedisServer.builder()
                .environment(Map.of(RedisServer.MODE_ENV, "redis://10.1.2.3:6390/2")).build();

        assertThat(server.mode()).isEqualTo(RedisServer.Mode.EXTERNAL);
    }

    @Test
    void aRedisUrlWithoutAPortIsRejected() {
        assertThatThrownBy(() -> RedisServer.builder().external("redis://cache.internal"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("external url must be a redis://host:port URL (port included), but was 'redis://cache.internal'");
    }

    @Test
    void anUnknownModeIsRejectedWithTheVariableAndTheValue() {
        assertThatThrownBy(() -> RedisServer.builder().environment(Map.of(RedisServer.MODE_ENV, "docker")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("SLUICE_TEST_REDIS must be 'local', 'container' or a redis:// URL, but was 'docker'");
    }

    @Test
    void containerModeAbortsWhenNoDockerEngineAnswers() {
        assumeFalse(DockerClientFactory.instance().isDockerAvailable(), "a Docker engine answers here");
        try (RedisServer server = RedisServer.builder()
                .environment(Map.of(RedisServer.MODE_ENV, "container")).build()) {
            assertThat(server.mode()).isEqualTo(RedisServer.Mode.CONTAINER);

            assertThatThrownBy(server::start)
                    .isInstanceOf(TestAbortedException.class)
                    .hasMessageContaining("no Docker engine answers")
                    .hasMessageContaining("redis:7");
        }
    }

    @Test
    void anExternalServerCanBeUsedAndFlushedButStoppingItAbortsTheTest() {
        try (RedisServer external = RedisServer.builder().external(redis.url()).build().start()) {
            try (Jedis jedis = external.newJedis()) {
                jedis.set("k", "v");
            }
            external.flushAll();
            try (Jedis jedis = redis.server().newJedis()) {
                assertThat(jedis.exists("k")).isFalse();
            }

            assertThatThrownBy(external::stop).isInstanceOf(TestAbortedException.class)
                    .hasMessageContaining("cannot be stopped");
            assertThatThrownBy(external::kill).isInstanceOf(TestAbortedException.class)
                    .hasMessageContaining("cannot be killed");
            assertThat(external.isRunning()).isTrue();
        }
        assertThat(redis.server().isRunning()).isTrue();
    }

    @Test
    void aMissingRedisServerSaysWhatToInstall() {
        assertThatThrownBy(() -> RedisServer.findExecutable(null, "/nonexistent/bin"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("redis-server was not found on PATH (/nonexistent/bin)")
                .hasMessageContaining("apt-get install -y redis-server")
                .hasMessageContaining("SLUICE_TEST_REDIS");
        assertThatThrownBy(() -> RedisServer.builder().local().executable(Path.of("/nonexistent/redis-server")).build().start())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("/nonexistent/redis-server does not exist");
    }

    @Test
    void closeDeletesTheDataDirectory() {
        RedisServer server = RedisServer.builder().local().build().start();
        Path dir = server.dataDir().orElseThrow();
        assertThat(dir).isDirectory();

        server.close();

        assertThat(dir).doesNotExist();
        assertThat(server.isRunning()).isFalse();
    }

    @Test
    void environmentVariablesReachALocalServerAtEveryStartAndAnotherModeRefusesThem() throws Exception {
        assertThatThrownBy(() -> RedisServer.builder().external("redis://10.1.2.3:6390").env("TZ", "UTC").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("apply to a local server only");
        // A process title written over the original environment would hide it from /proc.
        try (RedisServer server = RedisServer.builder().local().env("SLUICE_TESTKIT_PROBE", "42")
                .args("--set-proc-title", "no").build().start()) {
            assertThat(environment(server.pid().orElseThrow())).contains("SLUICE_TESTKIT_PROBE=42");
            server.kill();
            server.start();
            assertThat(environment(server.pid().orElseThrow())).contains("SLUICE_TESTKIT_PROBE=42");
        }
    }

    /** A process's environment as Linux shows it. */
    private static List<String> environment(long pid) throws Exception {
        return List.of(Files.readString(Path.of("/proc", Long.toString(pid), "environ")).split("\0"));
    }
}
