package dev.sluice.common.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {

    @Test
    void seedSampleSectionsLoadUnchanged() {
        String seed = """
                [redis]
                pool_size = 20
                connection_timeout_ms = 5000
                idle_timeout_secs = 300
                max_connection_lifetime_secs = 1800

                [hub]
                max_concurrent_connections = 5
                max_requests_per_second = 10
                """;
        SluiceConfig c = ConfigLoader.parse(seed, Map.of());
        assertThat(c.redis().poolSize()).isEqualTo(20);
        assertThat(c.redis().connectionTimeoutMs()).isEqualTo(5000);
        assertThat(c.redis().idleTimeoutSecs()).isEqualTo(300);
        assertThat(c.redis().maxConnectionLifetimeSecs()).isEqualTo(1800);
        assertThat(c.hub().maxConcurrentConnections()).isEqualTo(5);
        assertThat(c.hub().maxRequestsPerSecond()).isEqualTo(10);
    }

    @Test
    void seedProductionRecommendationWithItsCommentsLoads() {
        String seed = """
                [redis]
                pool_size = 50  # For high-traffic environments
                connection_timeout_ms = 3000
                idle_timeout_secs = 600
                max_connection_lifetime_secs = 3600

                [hub]
                max_concurrent_connections = 10  # Based on Hub capacity
                max_requests_per_second = 20
                """;
        SluiceConfig c = ConfigLoader.parse(seed, Map.of());
        assertThat(c.redis().poolSize()).isEqualTo(50);
        assertThat(c.hub().maxConcurrentConnections()).isEqualTo(10);
    }

    @Test
    void shippedProfilesLoadWithTheSeedsRecommendedValues() {
        Path deploy = Path.of(System.getProperty("user.dir")).getParent().resolve("deploy/config");
        SluiceConfig production = ConfigLoader.load(deploy.resolve("production.toml"), Map.of());
        assertThat(production.redis().poolSize()).isEqualTo(50);
        assertThat(production.redis().connectionTimeoutMs()).isEqualTo(3000);
        assertThat(production.redis().idleTimeoutSecs()).isEqualTo(600);
        assertThat(production.redis().maxConnectionLifetimeSecs()).isEqualTo(3600);
        assertThat(production.hub().maxConcurrentConnections()).isEqualTo(10);
        assertThat(production.hub().maxRequestsPerSecond()).isEqualTo(20);

        SluiceConfig development = ConfigLoader.load(deploy.resolve("development.toml"), Map.of());
        assertThat(development.redis().poolSize()).isEqualTo(10);
        assertThat(development.redis().connectionTimeoutMs()).isEqualTo(5000);
        assertThat(development.redis().idleTimeoutSecs()).isEqualTo(300);
        assertThat(development.hub().maxConcurrentConnections()).isEqualTo(3);
        assertThat(development.hub().maxRequestsPerSecond()).isEqualTo(5);
    }

    @Test
    void unknownKeySuggestsTheNearestKnownKey() {
        assertThatThrownBy(() -> ConfigLoader.parse("[redis]\npool_sise = 5\n", Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessage("unknown key redis.pool_sise; did you mean redis.pool_size?");
    }

    @Test
    void unknownEnvironmentKeyIsNamedWithItsVariable() {
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDIS_POOLSIZE", "5")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("unknown key redis.poolsize (from environment SLUICE_REDIS_POOLSIZE)")
                .hasMessageContaining("did you mean redis.pool_size?");
    }

    @Test
    void unknownSectionSuggestsTheNearestSection() {
        assertThatThrownBy(() -> ConfigLoader.parse("[reddis]\npool_size = 5\n", Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("unknown section [reddis]; did you mean [redis]?");
    }

    @Test
    void environmentValueOfWrongTypeSaysWhereItCameFrom() {
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDIS_POOL_SIZE", "lots")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("redis.pool_size must be an integer, but was \"lots\" (from environment SLUICE_REDIS_POOL_SIZE)");
    }

    @Test
    void outOfRangeMessageFollowsTheHouseStyle() {
        assertThatThrownBy(() -> ConfigLoader.parse("[redis]\npool_size = 0\n", Map.of()))
                .hasMessage("redis.pool_size must be between 1 and 1000, but was 0");
    }

    @Test
    void wrongTomlTypeIsNamed() {
        assertThatThrownBy(() -> ConfigLoader.parse("[hub]\nmax_requests_per_second = \"ten\"\n", Map.of()))
                .hasMessage("hub.max_requests_per_second must be an integer, but was \"ten\" (a string)");
    }

    @Test
    void conflictingValuesNameBothKeys() {
        assertThatThrownBy(() -> ConfigLoader.parse("[retry]\nbase_delay_ms = 5000\nmax_delay_ms = 1000\n", Map.of()))
                .hasMessage("retry.base_delay_ms must not exceed retry.max_delay_ms (1000), but was 5000");
    }

    @Test
    void variablesOutsideTheSectionsAreNotConfiguration() {
        SluiceConfig c = ConfigLoader.parse("", Map.of("SLUICE_TEST_REDIS", "container", "PATH", "/bin"));
        assertThat(c).isEqualTo(SluiceConfig.ofDefaults());
    }

    @Test
    void invalidTomlIsReportedWithTheFileName(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("broken.toml");
        Files.writeString(file, "[redis\npool_size = 5\n");
        assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(file + " is not valid TOML");
    }

    @Test
    void missingFileIsReported(@TempDir Path dir) {
        Path file = dir.resolve("absent.toml");
        assertThatThrownBy(() -> ConfigLoader.load(file, Map.of()))
                .hasMessage("configuration file " + file + " does not exist");
    }

    @Test
    void passwordsNeverAppearInRenderedConfiguration() {
        SluiceConfig c = ConfigLoader.parse("""
                [redis]
                url = "rediss://app:hunter2@cache:6380"
                [kafka]
                properties = { "sasl.jaas.config" = "secret-jaas", "ssl.truststore.password" = "pw1", "security.protocol" = "SASL_SSL" }
                [metrics]
                token = "tok3n"
                """, Map.of());
        String rendered = c.toString();
        assertThat(rendered).doesNotContain("hunter2", "secret-jaas", "pw1", "tok3n").contains("SASL_SSL", "app:***@cache");
    }

    @Test
    void redisUrlErrorsHideThePassword() {
        assertThatThrownBy(() -> ConfigLoader.parse("[redis]\nurl = \"http://u:hunter2@r:6379\"\n", Map.of()))
                .hasMessageContaining("redis.url")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void nodeIdDefaultNamesHostAndProcess() throws Exception {
        String id = SluiceConfig.ofDefaults().node().id();
        String host = java.net.InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9.-]", "-");
        assertThat(id).startsWith(host).contains("-" + ProcessHandle.current().pid() + "-");
        assertThat(SluiceConfig.ofDefaults().node().id()).as("stable within one process").isEqualTo(id);
    }

    @Test
    void nodeIdDefaultDiffersBetweenProcessesOnOneHost() throws Exception {
        String first = runPrintNodeId();
        String second = runPrintNodeId();
        assertThat(first).isNotBlank().isNotEqualTo(second).isNotEqualTo(SluiceConfig.ofDefaults().node().id());
    }

    private static String runPrintNodeId() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), PrintNodeId.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }
}
