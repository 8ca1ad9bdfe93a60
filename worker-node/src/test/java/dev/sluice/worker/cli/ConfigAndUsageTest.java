package dev.sluice.worker.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code config check}, configuration errors of every command, and usage errors: no Redis needed. */
class ConfigAndUsageTest {

    @TempDir
    Path dir;

    @Test
    void configCheckPrintsTheEffectiveConfigurationWithSecretsHidden() {
        Path config = TestConfig.write(dir, "good.toml", """
                [redis]
                url = "redis://app:hunter2@redis.internal:6380/1"
                pool_size = 30
                [kafka]
                properties = { "sasl.jaas.config" = "PlainLoginModule required password=\\"kafkapw\\";", "security.protocol" = "SASL_SSL" }
                [metrics]
                token = "t0ken-value"
                """);

        CliRun run = CliRun.run(Map.of("SLUICE_NODE_CONCURRENCY", "64", "SLUICE_TEST_REDIS", "local"), "",
                "config", "check", "--config", config.toString());

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out())
                .startsWith("# configuration OK: " + config + "\n# environment overrides: SLUICE_NODE_CONCURRENCY\n")
                .contains("\n[redis]\nurl = \"redis://app:***@redis.internal:6380/1\"\npool_size = 30\n")
                .contains("\n[node]\n").contains("concurrency = 64\n")
                .contains("properties = { \"sasl.jaas.config\" = \"***\", \"security.protocol\" = \"SASL_SSL\" }")
                .contains("[metrics]\nport = 8081\nbind = \"0.0.0.0\"\ntoken = \"***\"\n")
                .contains("members = []\n")
                .doesNotContain("hunter2", "kafkapw", "t0ken-value");
        assertThat(run.err()).isEmpty();
    }

    @Test
    void configCheckWithoutAFileUsesDefaultsAndTheEnvironment() {
        CliRun run = CliRun.run(Map.of("SLUICE_QUEUE_MODE", "list"), "", "config", "check");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("# configuration OK: defaults\n").contains("mode = \"list\"\n");
    }

    @Test
    void configCheckNamesIgnoredVariablesAndServiceLinksWithoutTheirValues() {
        CliRun run = CliRun.run(Map.of("SLUICE_QUEUE_MODE", "list", "SLUICE_TEST_REDIS", "local",
                "SLUICE_JAVA_HOME", "/opt/jdk-secret-path", "SLUICE_REDIS_SERVICE_HOST", "10.0.0.3",
                "SLUICE_REDIS_PORT", "tcp://10.0.0.3:6379", "SLUICE_REDIS_PORT_6379_TCP_ADDR", "10.0.0.3"), "",
                "config", "check");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).startsWith("""
                # configuration OK: defaults
                # environment overrides: SLUICE_QUEUE_MODE
                # ignored environment variables: SLUICE_JAVA_HOME, SLUICE_TEST_REDIS
                # ignored Kubernetes service links: SLUICE_REDIS_PORT, SLUICE_REDIS_PORT_6379_TCP_ADDR, SLUICE_REDIS_SERVICE_HOST
                """).doesNotContain("/opt/jdk-secret-path", "10.0.0.3");
    }

    @Test
    void aMisspeltEnvironmentVariableExits78WithASuggestion() {
        CliRun run = CliRun.run(Map.of("SLUICE_REDDIS_URL", "redis://r:6379"), "", "config", "check");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(78);
        assertThat(run.err()).startsWith("sluice: environment variable SLUICE_REDDIS_URL must name a known "
                + "SLUICE_<SECTION>_<KEY>").contains("did you mean SLUICE_REDIS_URL?");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void aBadValueExits78NamingKeyValueAndRule() {
        Path bad = TestConfig.write(dir, "bad.toml", "[redis]\npool_size = 0\n");

        for (String[] command : new String[][] {{"config", "check"}, {"worker"}, {"enqueue", "k"}, {"queue", "stats"},
                {"dlq", "list"}, {"dlq", "replay", "--all"}}) {
            String[] args = new String[command.length + 2];
            System.arraycopy(command, 0, args, 0, command.length);
            args[command.length] = "--config";
            args[command.length + 1] = bad.toString();

            CliRun run = CliRun.run(args);

            assertThat(run.exitCode()).as(String.join(" ", command) + ": " + run).isEqualTo(78);
            assertThat(run.err()).isEqualTo("sluice: redis.pool_size must be between 1 and 1000, but was 0\n");
            assertThat(run.out()).isEmpty();
        }
    }

    @Test
    void aBadEnvironmentOverrideSaysWhereItCameFrom() {
        CliRun run = CliRun.run(Map.of("SLUICE_REDIS_POOL_SIZE", "lots"), "", "config", "check");

        assertThat(run.exitCode()).isEqualTo(78);
        assertThat(run.err()).isEqualTo(
                "sluice: redis.pool_size must be an integer, but was \"lots\" (from environment SLUICE_REDIS_POOL_SIZE)\n");
    }

    @Test
    void aMissingFileOrAnUnknownKeyIsAConfigurationError() {
        CliRun missing = CliRun.run("config", "check", "--config", dir.resolve("nope.toml").toString());
        assertThat(missing.exitCode()).isEqualTo(78);
        assertThat(missing.err()).contains("nope.toml does not exist");

        Path typo = TestConfig.write(dir, "typo.toml", "[redis]\npool_sise = 5\n");
        CliRun unknown = CliRun.run("config", "check", "--config", typo.toString());
        assertThat(unknown.exitCode()).isEqualTo(78);
        assertThat(unknown.err()).isEqualTo("sluice: unknown key redis.pool_sise; did you mean redis.pool_size?\n");
    }

    @Test
    void aPasswordInABadUrlIsNotEchoed() {
        Path bad = TestConfig.write(dir, "url.toml", "[redis]\nurl = \"http://u:hunter2@host:6379\"\n");

        CliRun run = CliRun.run("config", "check", "--config", bad.toString());

        assertThat(run.exitCode()).isEqualTo(78);
        assertThat(run.err()).contains("redis.url").contains("scheme redis or rediss").doesNotContain("hunter2");
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertThat(CliRun.run()).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("Missing required subcommand").contains("Usage: sluice");
        });
        assertThat(CliRun.run("queue").exitCode()).isEqualTo(2);
        assertThat(CliRun.run("dlq").exitCode()).isEqualTo(2);
        assertThat(CliRun.run("config").exitCode()).isEqualTo(2);
        assertThat(CliRun.run("frobnicate").exitCode()).isEqualTo(2);
        assertThat(CliRun.run("queue", "stats", "--jsn").exitCode()).isEqualTo(2);
    }

    @Test
    void helpListsTheCommandsAndExitsZero() {
        CliRun run = CliRun.run("--help");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("worker").contains("enqueue").contains("queue").contains("dlq").contains("config")
                .contains("78  bad configuration");
        assertThat(CliRun.run("dlq", "replay", "--help").out()).contains("--all").contains("--config=FILE");
    }
}
