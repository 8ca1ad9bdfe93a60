package dev.sluice.common.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
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
                .hasMessage("environment variable SLUICE_REDIS_POOLSIZE must name a known SLUICE_<SECTION>_<KEY>, "
                        + "but [redis] has no key poolsize (value \"5\"); did you mean SLUICE_REDIS_POOL_SIZE?")
                .satisfies(e -> assertThat(((ConfigException) e).key()).isEqualTo("SLUICE_REDIS_POOLSIZE"));
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDIS_URLL", "redis://r:6379")))
                .hasMessageContaining("[redis] has no key urll").hasMessageContaining("did you mean SLUICE_REDIS_URL?");
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDIS", "redis://r:6379")))
                .hasMessageContaining("it names section [redis] without a key")
                .hasMessageContaining("did you mean SLUICE_REDIS_URL?");
    }

    @Test
    void environmentVariableWithAMisspeltSectionStopsLoading() {
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDDIS_URL", "redis://r:6379")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("environment variable SLUICE_REDDIS_URL must name a known SLUICE_<SECTION>_<KEY>, but reddis "
                        + "is not a section, only 1 edit from [redis] (value \"redis://r:6379\"); did you mean "
                        + "SLUICE_REDIS_URL?. A SLUICE_ variable is left alone only when the part after SLUICE_ up to the "
                        + "next _ is more than 2 edits from every section")
                .satisfies(e -> assertThat(((ConfigException) e).rule()).isEqualTo("must name a known SLUICE_<SECTION>_<KEY>"));
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_QUEU_MODE", "list")))
                .hasMessageContaining("did you mean SLUICE_QUEUE_MODE?");
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_KAFAK_ENABLED", "false")))
                .as("two swapped letters are one edit").hasMessageContaining("only 1 edit from [kafka]");
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_ALRETS_NODE_DOWN_FOR_SECS", "5")))
                .hasMessageContaining("did you mean SLUICE_ALERTS_NODE_DOWN_FOR_SECS?");
    }

    @Test
    void misspeltSecretVariablesDoNotShowTheirValue() {
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_METRIC_TOKEN", "tok3n")))
                .hasMessageContaining("environment variable SLUICE_METRIC_TOKEN")
                .hasMessageContaining("(value hidden)")
                .hasMessageContaining("did you mean SLUICE_METRICS_TOKEN?")
                .hasMessageNotContaining("tok3n")
                .satisfies(e -> assertThat(((ConfigException) e).value()).isNull());
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_METRICS_TOKN", "tok3n")))
                .as("the suggestion is a secret").hasMessageContaining("did you mean SLUICE_METRICS_TOKEN?")
                .hasMessageNotContaining("tok3n");
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_CLUSTR_SECRET", "s3cret")))
                .hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_REDDIS_URL", "redis://app:hunter2@r:6379")))
                .hasMessageContaining("redis://app:***@r:6379").hasMessageNotContaining("hunter2");
    }

    /** What a pod gets beside Services named sluice-worker, sluice-redis and sluice-coordinator. */
    private static Map<String, String> kubernetesServiceLinks() {
        Map<String, String> env = new HashMap<>();
        String[][] services = {{"SLUICE_WORKER", "10.0.0.2", "5701"}, {"SLUICE_REDIS", "10.0.0.3", "6379"},
                {"SLUICE_COORDINATOR", "10.0.0.4", "8090"}};
        for (String[] s : services) {
            String prefix = s[0];
            String ip = s[1];
            String port = s[2];
            env.put(prefix + "_SERVICE_HOST", ip);
            env.put(prefix + "_SERVICE_PORT", port);
            env.put(prefix + "_SERVICE_PORT_" + prefix.substring("SLUICE_".length()), port);
            env.put(prefix + "_PORT", "tcp://" + ip + ":" + port);
            env.put(prefix + "_PORT_" + port + "_TCP", "tcp://" + ip + ":" + port);
            env.put(prefix + "_PORT_" + port + "_TCP_PROTO", "tcp");
            env.put(prefix + "_PORT_" + port + "_TCP_PORT", port);
            env.put(prefix + "_PORT_" + port + "_TCP_ADDR", ip);
        }
        env.put("SLUICE_REDIS_PORT_53_UDP", "udp://10.0.0.3:53");
        env.put("SLUICE_REDIS_PORT_53_UDP_ADDR", "10.0.0.3");
        return env;
    }

    @Test
    void kubernetesServiceLinksAreNotConfiguration() {
        Map<String, String> overrides = Map.of("SLUICE_REDIS_URL", "redis://redis:6379", "SLUICE_NODE_CONCURRENCY", "64");
        Map<String, String> env = new HashMap<>(kubernetesServiceLinks());
        env.putAll(overrides);

        assertThat(ConfigLoader.parse("", env)).isEqualTo(ConfigLoader.parse("", overrides));
        ConfigLoader.EnvironmentVariables sorted = ConfigLoader.environment(env);
        assertThat(sorted.overrides()).containsExactly("SLUICE_NODE_CONCURRENCY", "SLUICE_REDIS_URL");
        assertThat(sorted.serviceLinks()).containsExactlyInAnyOrderElementsOf(kubernetesServiceLinks().keySet());
        assertThat(sorted.ignored()).isEmpty();
    }

    @Test
    void aPortVariableIsAServiceLinkOnlyWhenItsValueIsAnAddress() {
        SluiceConfig linked = ConfigLoader.parse("", Map.of("SLUICE_METRICS_PORT", "tcp://10.0.0.5:9090",
                "SLUICE_CLUSTER_PORT", "udp://10.0.0.6:5701"));
        assertThat(linked.metrics().port()).as("Service sluice-metrics, not metrics.port").isEqualTo(8081);
        assertThat(linked.cluster().port()).isEqualTo(5701);

        SluiceConfig configured = ConfigLoader.parse("", Map.of("SLUICE_METRICS_PORT", "9090", "SLUICE_CLUSTER_PORT", "5801"));
        assertThat(configured.metrics().port()).isEqualTo(9090);
        assertThat(configured.cluster().port()).isEqualTo(5801);
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_METRICS_PORT", "10.0.0.5:9090")))
                .as("any other value is configuration, and checked").hasMessageContaining("metrics.port must be an integer");
    }

    @Test
    void noKeysVariableLooksLikeAServiceLink() {
        for (String key : ConfigLoader.knownKeys()) {
            String name = ConfigLoader.variable(key);
            assertThat(ConfigLoader.isServiceLink(name, "1")).as(name).isFalse();
            assertThat(ConfigLoader.isServiceLink(name, "tcp://10.0.0.1:1")).as(name).isEqualTo(name.endsWith("_PORT"));
        }
    }

    @Test
    void variablesThisRepositoryUsesOutsideTheSectionsAreIgnored() {
        // Every SLUICE_ name in scripts, .ci, deploy/, docker-compose.yml and tests that is not a configuration key.
        List<String> names = List.of("SLUICE_TEST_REDIS", "SLUICE_TEST_REDIS_IMAGE", "SLUICE_JAVA_HOME",
                "SLUICE_DEMO_STALL_SECS", "SLUICE_DEMO_PROJECT", "SLUICE_CI_DOCKER_SMOKE", "SLUICE_COMPOSE",
                "SLUICE_DEBIAN_MIRROR", "SLUICE_DOCKERD_LOG", "SLUICE_FLEET_MAX_RPS", "SLUICE_FLEET_MAX_IN_FLIGHT",
                "SLUICE_GREETING", "SLUICE_HUBSIM_MAX_RPS", "SLUICE_HUBSIM_MAX_IN_FLIGHT", "SLUICE_HUBSIM_LATENCY_MS",
                "SLUICE_HUBSIM_JITTER_MS", "SLUICE_IMAGE_BASE", "SLUICE_IMAGE_GRAFANA", "SLUICE_IMAGE_JRE",
                "SLUICE_IMAGE_KAFKA", "SLUICE_IMAGE_PROMETHEUS", "SLUICE_IMAGE_REDIS", "SLUICE_LOCAL_CONFIG",
                "SLUICE_LOCAL_COORDINATOR_URL", "SLUICE_LOCAL_DIR", "SLUICE_LOCAL_HUB_IN_FLIGHT",
                "SLUICE_LOCAL_HUB_LATENCY_MS", "SLUICE_LOCAL_HUB_RPS", "SLUICE_LOCAL_HUB_URL", "SLUICE_LOCAL_KAFKA",
                "SLUICE_LOCAL_PORT_BASE", "SLUICE_LOCAL_REDIS_PORT", "SLUICE_LOCAL_RUN",
                "SLUICE_LOCAL_WORKER_ADMIN_PORT_1", "SLUICE_LOG_LEVEL", "SLUICE_PUBLISH_COORDINATOR",
                "SLUICE_PUBLISH_GRAFANA", "SLUICE_PUBLISH_PROMETHEUS", "SLUICE_REBUILD_STANDINS",
                "SLUICE_SMOKE_BREAKER_ALERT_FOR_SECS", "SLUICE_SMOKE_BREAKER_OPEN_SECS", "SLUICE_SMOKE_JOBS",
                "SLUICE_SMOKE_KEEP", "SLUICE_SMOKE_PROJECT", "SLUICE_SMOKE_PROMTOOL", "SLUICE_SMOKE_SCALE_JOBS",
                "SLUICE_SMOKE_TIMEOUT_SECS", "SLUICE_TAG");
        Map<String, String> env = new HashMap<>();
        names.forEach(n -> env.put(n, "1"));

        assertThat(ConfigLoader.parse("", env)).isEqualTo(SluiceConfig.ofDefaults());
        assertThat(ConfigLoader.environment(env).ignored()).containsExactlyInAnyOrderElementsOf(names);
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
