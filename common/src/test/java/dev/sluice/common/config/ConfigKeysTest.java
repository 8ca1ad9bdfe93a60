package dev.sluice.common.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every configuration key: its default, a file override, an environment override, and an invalid value whose
 * message names the key, the value and the rule. A key added to the loader without a row here fails
 * {@link #everyKnownKeyHasARow()}.
 */
class ConfigKeysTest {

    /**
     * @param key          section.key
     * @param get          reads the value from a loaded config
     * @param defaultValue expected default
     * @param toml         a TOML literal for the override
     * @param overridden   expected value after the TOML override
     * @param env          an environment value
     * @param fromEnv      expected value after the environment override
     * @param invalid      an invalid TOML literal
     * @param rule         a fragment of the rule the invalid value breaks
     */
    record Row(String key, Function<SluiceConfig, Object> get, Object defaultValue, String toml, Object overridden,
               String env, Object fromEnv, String invalid, String rule) {
        @Override
        public String toString() {
            return key;
        }

        String section() {
            return key.substring(0, key.indexOf('.'));
        }

        String name() {
            return key.substring(key.indexOf('.') + 1);
        }

        String envName() {
            return "SLUICE_" + key.replace('.', '_').toUpperCase(java.util.Locale.ROOT);
        }
    }

    static List<Row> rows() {
        return List.of(
                new Row("node.concurrency", c -> c.node().concurrency(), 250, "500", 500, "64", 64, "0", "between 1 and 10000"),
                new Row("node.drain_timeout_secs", c -> c.node().drainTimeoutSecs(), 20, "5", 5, "7", 7, "-1", "between 0 and 3600"),
                new Row("node.heartbeat_interval_secs", c -> c.node().heartbeatIntervalSecs(), 5, "2", 2, "10", 10, "0", "between 1 and 300"),
                new Row("node.lease_ms", c -> c.node().leaseMs(), 6000, "3000", 3000, "9000", 9000, "100", "between 300 and 600000"),
                new Row("node.id", c -> c.node().id(), NodeConfig.defaultId(), "\"worker-a\"", "worker-a", "worker-b", "worker-b", "\"a b\"", "letters, digits"),
                new Row("redis.url", c -> c.redis().url().toString(), "redis://127.0.0.1:6379", "\"rediss://user:pw@redis:6380/1\"", "rediss://user:pw@redis:6380/1", "redis://r:6379", "redis://r:6379", "\"http://r:6379\"", "scheme redis or rediss"),
                new Row("redis.pool_size", c -> c.redis().poolSize(), 20, "50", 50, "5", 5, "0", "between 1 and 1000"),
                new Row("redis.connection_timeout_ms", c -> c.redis().connectionTimeoutMs(), 5000, "3000", 3000, "1500", 1500, "0", "between 1 and 600000"),
                new Row("redis.idle_timeout_secs", c -> c.redis().idleTimeoutSecs(), 300, "600", 600, "0", 0, "-5", "between 0 and 86400"),
                new Row("redis.max_connection_lifetime_secs", c -> c.redis().maxConnectionLifetimeSecs(), 1800, "3600", 3600, "60", 60, "\"long\"", "must be an integer"),
                new Row("redis.tls_ca_file", c -> c.redis().tlsCaFile(), "", "\"/etc/ca.pem\"", "/etc/ca.pem", "/ca.pem", "/ca.pem", "7", "must be a string"),
                new Row("redis.pressure_threshold", c -> c.redis().pressureThreshold(), 0.2, "0.3", 0.3, "0.25", 0.25, "1.5", "less than 1.0"),
                new Row("queue.mode", c -> c.queue().mode().id(), "stream", "\"list\"", "list", "LIST", "list", "\"kafka\"", "one of \"stream\", \"list\""),
                new Row("queue.stream", c -> c.queue().stream(), "sluice:jobs", "\"jobs\"", "jobs", "j2", "j2", "\"\"", "must not be empty"),
                new Row("queue.group", c -> c.queue().group(), "sluice", "\"g\"", "g", "g2", "g2", "5", "must be a string"),
                new Row("queue.list", c -> c.queue().list(), "sluice:queue", "\"q\"", "q", "q2", "q2", "\" \"", "must not be empty"),
                new Row("queue.block_timeout_ms", c -> c.queue().blockTimeoutMs(), 500, "1000", 1000, "250", 250, "0", "between 1 and 60000"),
                new Row("queue.pressure_block_timeout_ms", c -> c.queue().pressureBlockTimeoutMs(), 100, "50", 50, "20", 20, "900", "must not exceed queue.block_timeout_ms"),
                new Row("queue.visibility_timeout_secs", c -> c.queue().visibilityTimeoutSecs(), 30, "10", 10, "1", 1, "0", "between 1 and 86400"),
                new Row("queue.max_deliveries", c -> c.queue().maxDeliveries(), 5, "3", 3, "10", 10, "0", "between 1 and 1000"),
                new Row("queue.dead_letter", c -> c.queue().deadLetter(), "sluice:dead", "\"d\"", "d", "d2", "d2", "[]", "must be a string"),
                new Row("queue.delayed", c -> c.queue().delayed(), "sluice:delayed", "\"z\"", "z", "z2", "z2", "\"\"", "must not be empty"),
                new Row("queue.dead_letter_retention_days", c -> c.queue().deadLetterRetentionDays(), 14, "30", 30, "1", 1, "0", "between 1 and 3650"),
                new Row("queue.max_job_bytes", c -> c.queue().maxJobBytes(), 262144, "1024", 1024, "2048", 2048, "10", "between 64 and"),
                new Row("hub.base_url", c -> c.hub().baseUrl().toString(), "http://127.0.0.1:8080", "\"https://hub.example\"", "https://hub.example", "http://hub:9000", "http://hub:9000", "\"hub:9000\"", "scheme http or https"),
                new Row("hub.path", c -> c.hub().path(), "/v1/backfill/{key}", "\"/items/{key}\"", "/items/{key}", "/x/{key}", "/x/{key}", "\"/items\"", "contain {key}"),
                new Row("hub.max_concurrent_connections", c -> c.hub().maxConcurrentConnections(), 5, "10", 10, "3", 3, "0", "between 1 and 10000"),
                new Row("hub.max_requests_per_second", c -> c.hub().maxRequestsPerSecond(), 10, "20", 20, "5", 5, "0", "between 1 and 1000000"),
                new Row("hub.connect_timeout_ms", c -> c.hub().connectTimeoutMs(), 2000, "1000", 1000, "500", 500, "6000", "must not exceed hub.request_timeout_ms"),
                new Row("hub.request_timeout_ms", c -> c.hub().requestTimeoutMs(), 5000, "8000", 8000, "3000", 3000, "0", "between 1 and 600000"),
                new Row("hub.permit_grace_ms", c -> c.hub().permitGraceMs(), 1000, "500", 500, "0", 0, "-1", "between 0 and 600000"),
                new Row("hub.max_retry_after_secs", c -> c.hub().maxRetryAfterSecs(), 300, "60", 60, "3600", 3600, "0", "between 1 and 86400"),
                new Row("hub.max_response_bytes", c -> c.hub().maxResponseBytes(), 1048576, "4096", 4096, "2097152", 2097152, "1000", "between 1024 and 67108864"),
                new Row("breaker.failure_threshold", c -> c.breaker().failureThreshold(), 5, "3", 3, "10", 10, "0", "between 1 and 1000"),
                new Row("breaker.open_secs", c -> c.breaker().openSecs(), 30, "10", 10, "60", 60, "0", "between 1 and 86400"),
                new Row("breaker.half_open_calls", c -> c.breaker().halfOpenCalls(), 1, "2", 2, "3", 3, "0", "between 1 and 100"),
                new Row("retry.base_delay_ms", c -> c.retry().baseDelayMs(), 500, "100", 100, "200", 200, "70000", "must not exceed retry.max_delay_ms"),
                new Row("retry.max_delay_ms", c -> c.retry().maxDelayMs(), 60000, "30000", 30000, "1000", 1000, "0", "between 1 and"),
                new Row("retry.max_attempts", c -> c.retry().maxAttempts(), 5, "3", 3, "7", 7, "0", "between 1 and 100"),
                new Row("retry.jitter", c -> c.retry().jitter().id(), "full", "\"equal\"", "equal", "none", "none", "\"random\"", "one of \"full\", \"equal\", \"none\""),
                new Row("sink.kind", c -> c.sink().kind().id(), "redis", "\"kafka\"", "kafka", "kafka", "kafka", "\"postgres\"", "one of \"redis\", \"kafka\""),
                new Row("sink.max_concurrent_writes", c -> c.sink().maxConcurrentWrites(), 8, "16", 16, "4", 4, "0", "between 1 and 1000"),
                new Row("sink.target", c -> c.sink().target(), "sluice:result:", "\"out:\"", "out:", "o2:", "o2:", "\"\"", "must not be empty"),
                new Row("sink.result_retention_days", c -> c.sink().resultRetentionDays(), 7, "30", 30, "2", 2, "0", "between 1 and 3650"),
                new Row("cluster.name", c -> c.cluster().name(), "sluice", "\"prod\"", "prod", "dev", "dev", "\"\"", "must not be empty"),
                new Row("cluster.discovery", c -> c.cluster().discovery().id(), "tcp", "\"multicast\"", "multicast", "kubernetes", "kubernetes", "\"dns\"", "one of \"tcp\", \"multicast\", \"kubernetes\""),
                new Row("cluster.members", c -> c.cluster().members(), List.of(), "[\"a:5701\", \"b:5701\"]", List.of("a:5701", "b:5701"), "x:5701, y", List.of("x:5701", "y"), "[\"a:5701-5703\"]", "without port ranges"),
                new Row("cluster.port", c -> c.cluster().port(), 5701, "5801", 5801, "5901", 5901, "70000", "between 1 and 65535"),
                new Row("cluster.bind_address", c -> c.cluster().bindAddress(), "127.0.0.1", "\"10.0.0.5\"", "10.0.0.5", "10.1.1.1", "10.1.1.1", "\"\"", "must not be empty"),
                new Row("cluster.kubernetes_service", c -> c.cluster().kubernetesService(), "sluice-worker", "\"w\"", "w", "w2", "w2", "1", "must be a string"),
                new Row("cluster.member_timeout_secs", c -> c.cluster().memberTimeoutSecs(), 5, "10", 10, "3", 3, "0", "between 1 and 600"),
                new Row("cluster.on_store_failure", c -> c.cluster().onStoreFailure().id(), "fail-closed", "\"local-share\"", "local-share", "fail-open", "fail-open", "\"ignore\"", "one of \"fail-closed\", \"local-share\", \"fail-open\""),
                new Row("cluster.secret", c -> c.cluster().secret(), "", "\"0123456789abcdef-file\"", "0123456789abcdef-file", "0123456789abcdef-env", "0123456789abcdef-env", "\"too-short\"", "at least 16 characters"),
                new Row("kafka.enabled", c -> c.kafka().enabled(), true, "false", false, "FALSE", false, "\"yes\"", "must be true or false"),
                new Row("kafka.bootstrap_servers", c -> c.kafka().bootstrapServers(), "127.0.0.1:9092", "\"k1:9092,k2:9092\"", "k1:9092,k2:9092", "k:9092", "k:9092", "\"\"", "must not be empty"),
                new Row("kafka.events_topic", c -> c.kafka().eventsTopic(), "sluice.events", "\"ev\"", "ev", "ev2", "ev2", "\"\"", "must not be empty"),
                new Row("kafka.alerts_topic", c -> c.kafka().alertsTopic(), "sluice.alerts", "\"al\"", "al", "al2", "al2", "\"\"", "must not be empty"),
                new Row("kafka.buffer_events", c -> c.kafka().bufferEvents(), 10000, "100", 100, "50", 50, "0", "between 1 and 10000000"),
                new Row("kafka.properties", c -> c.kafka().properties(), Map.of(), "{ \"security.protocol\" = \"SSL\" }", Map.of("security.protocol", "SSL"), "security.protocol=SASL_SSL,sasl.mechanism=PLAIN", Map.of("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN"), "\"SSL\"", "must be a table"),
                new Row("metrics.port", c -> c.metrics().port(), 8081, "9100", 9100, "0", 0, "65536", "between 0 and 65535"),
                new Row("metrics.bind", c -> c.metrics().bind(), "0.0.0.0", "\"127.0.0.1\"", "127.0.0.1", "10.0.0.1", "10.0.0.1", "\"\"", "must not be empty"),
                new Row("metrics.token", c -> c.metrics().token(), "", "\"s3cret\"", "s3cret", "t0k", "t0k", "42", "must be a string"),
                new Row("coordinator.group_id", c -> c.coordinator().groupId(), "sluice-coordinator", "\"c1\"", "c1", "c2", "c2", "\"\"", "must not be empty"),
                new Row("coordinator.evaluation_interval_ms", c -> c.coordinator().evaluationIntervalMs(), 1000, "500", 500, "250", 250, "5", "between 10 and 60000"),
                new Row("coordinator.heartbeat_interval_ms", c -> c.coordinator().heartbeatIntervalMs(), 5000, "2000", 2000, "1000", 1000, "50", "between 100 and 600000"),
                new Row("coordinator.replay_secs", c -> c.coordinator().replaySecs(), 600, "300", 300, "0", 0, "-1", "between 0 and 86400"),
                new Row("coordinator.node_forget_secs", c -> c.coordinator().nodeForgetSecs(), 3600, "600", 600, "60", 60, "0", "between 1 and 604800"),
                new Row("coordinator.resolved_retention_secs", c -> c.coordinator().resolvedRetentionSecs(), 3600, "60", 60, "0", 0, "-5", "between 0 and 604800"),
                new Row("coordinator.external_url", c -> Objects.toString(c.coordinator().externalUrl(), ""), "", "\"https://coord.example:8443\"", "https://coord.example:8443", "http://coord:9000", "http://coord:9000", "\"coord:9000\"", "scheme http or https"),
                new Row("coordinator.webhook_url", c -> Objects.toString(c.coordinator().webhookUrl(), ""), "", "\"http://am:9093/api/v2/alerts\"", "http://am:9093/api/v2/alerts", "https://am.example/api/v2/alerts", "https://am.example/api/v2/alerts", "\"ftp://am/x\"", "scheme http or https"),
                new Row("coordinator.webhook_timeout_ms", c -> c.coordinator().webhookTimeoutMs(), 5000, "2000", 2000, "100", 100, "0", "between 1 and 600000"),
                new Row("coordinator.webhook_resend_secs", c -> c.coordinator().webhookResendSecs(), 60, "30", 30, "120", 120, "0", "between 1 and 3600"),
                new Row("coordinator.webhook_max_attempts", c -> c.coordinator().webhookMaxAttempts(), 5, "3", 3, "10", 10, "0", "between 1 and 100"),
                new Row("coordinator.webhook_backoff_ms", c -> c.coordinator().webhookBackoffMs(), 500, "100", 100, "1000", 1000, "0", "between 1 and 600000"),
                new Row("coordinator.tokens", c -> c.coordinator().tokens(), Map.of(), "{ alice = \"alice-token-0123456789\" }", Map.of("alice", "alice-token-0123456789"), "bob=bob-token-0123456789", Map.of("bob", "bob-token-0123456789"), "{ alice = \"short\" }", "tokens must be at least 16 printable ASCII characters"),
                new Row("coordinator.hostnames", c -> c.coordinator().hostnames(), List.of(), "[\"sluice.example\"]", List.of("sluice.example"), "a.example, b.example", List.of("a.example", "b.example"), "[\"bad host\"]", "must be host names or addresses"),
                new Row("alerts.rate_window_secs", c -> c.alerts().rateWindowSecs(), 60, "120", 120, "30", 30, "0", "between 1 and 3600"),
                new Row("alerts.rate_min_operations", c -> c.alerts().rateMinOperations(), 20, "100", 100, "0", 0, "-1", "between 0 and 1000000000"),
                new Row("alerts.breaker_inhibits", c -> c.alerts().breakerInhibits(), List.of("connection_timeout_rate", "hub_error_rate"), "[\"hub_error_rate\"]", List.of("hub_error_rate"), "hub_rate_limited, redis_error_rate", List.of("hub_rate_limited", "redis_error_rate"), "[\"pool_usage\"]", "must list rules among"),
                new Row("alerts.pool_usage_threshold", c -> c.alerts().rule("pool_usage").threshold(), 0.8, "0.9", 0.9, "0.75", 0.75, "1.2", "less than 1.0"),
                new Row("alerts.pool_usage_for_secs", c -> c.alerts().rule("pool_usage").forSecs(), 60, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.pool_usage_severity", c -> c.alerts().rule("pool_usage").severity(), "warning", "\"critical\"", "critical", "INFO", "info", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.pool_usage_labels", c -> c.alerts().rule("pool_usage").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ severity = \"low\" }", "must not set the labels the alert sets itself"),
                new Row("alerts.breaker_not_closed_for_secs", c -> c.alerts().rule("breaker_not_closed").forSecs(), 300, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.breaker_not_closed_severity", c -> c.alerts().rule("breaker_not_closed").severity(), "critical", "\"info\"", "info", "warning", "warning", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.breaker_not_closed_labels", c -> c.alerts().rule("breaker_not_closed").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ \"1x\" = \"a\" }", "must name labels with letters"),
                new Row("alerts.connection_timeout_rate_threshold", c -> c.alerts().rule("connection_timeout_rate").threshold(), 0.05, "0.1", 0.1, "0.02", 0.02, "0", "greater than 0.0"),
                new Row("alerts.connection_timeout_rate_for_secs", c -> c.alerts().rule("connection_timeout_rate").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.connection_timeout_rate_severity", c -> c.alerts().rule("connection_timeout_rate").severity(), "warning", "\"none\"", "none", "Critical", "critical", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.connection_timeout_rate_labels", c -> c.alerts().rule("connection_timeout_rate").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ node = \"n\" }", "must not set the labels the alert sets itself"),
                new Row("alerts.redis_error_rate_threshold", c -> c.alerts().rule("redis_error_rate").threshold(), 0.01, "0.05", 0.05, "0.02", 0.02, "\"high\"", "must be a number"),
                new Row("alerts.redis_error_rate_for_secs", c -> c.alerts().rule("redis_error_rate").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.redis_error_rate_severity", c -> c.alerts().rule("redis_error_rate").severity(), "warning", "\"none\"", "none", "Critical", "critical", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.redis_error_rate_labels", c -> c.alerts().rule("redis_error_rate").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "\"team\"", "must be a table"),
                new Row("alerts.hub_error_rate_threshold", c -> c.alerts().rule("hub_error_rate").threshold(), 0.05, "0.2", 0.2, "0.1", 0.1, "1", "less than 1.0"),
                new Row("alerts.hub_error_rate_for_secs", c -> c.alerts().rule("hub_error_rate").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.hub_error_rate_severity", c -> c.alerts().rule("hub_error_rate").severity(), "warning", "\"critical\"", "critical", "INFO", "info", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.hub_error_rate_labels", c -> c.alerts().rule("hub_error_rate").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ severity = \"low\" }", "must not set the labels the alert sets itself"),
                new Row("alerts.hub_rate_limited_threshold", c -> c.alerts().rule("hub_rate_limited").threshold(), 0.01, "0.05", 0.05, "0.5", 0.5, "-0.1", "greater than 0.0"),
                new Row("alerts.hub_rate_limited_for_secs", c -> c.alerts().rule("hub_rate_limited").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.hub_rate_limited_severity", c -> c.alerts().rule("hub_rate_limited").severity(), "warning", "\"info\"", "info", "warning", "warning", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.hub_rate_limited_labels", c -> c.alerts().rule("hub_rate_limited").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ \"1x\" = \"a\" }", "must name labels with letters"),
                new Row("alerts.node_down_missed_heartbeats", c -> (int) c.alerts().rule("node_down").threshold(), 3, "5", 5, "2", 2, "0", "between 1 and 1000"),
                new Row("alerts.node_down_for_secs", c -> c.alerts().rule("node_down").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.node_down_severity", c -> c.alerts().rule("node_down").severity(), "critical", "\"warning\"", "warning", "none", "none", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.node_down_labels", c -> c.alerts().rule("node_down").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ node = \"n\" }", "must not set the labels the alert sets itself"),
                new Row("alerts.backlog_not_draining_age_secs", c -> (int) c.alerts().rule("backlog_not_draining").threshold(), 600, "1800", 1800, "60", 60, "0", "between 1 and 604800"),
                new Row("alerts.backlog_not_draining_for_secs", c -> c.alerts().rule("backlog_not_draining").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.backlog_not_draining_severity", c -> c.alerts().rule("backlog_not_draining").severity(), "warning", "\"none\"", "none", "Critical", "critical", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.backlog_not_draining_labels", c -> c.alerts().rule("backlog_not_draining").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "\"team\"", "must be a table"),
                new Row("alerts.dead_letter_growth_threshold", c -> (int) c.alerts().rule("dead_letter_growth").threshold(), 10, "50", 50, "0", 0, "-1", "between 0 and 1000000000"),
                new Row("alerts.dead_letter_growth_window_secs", c -> c.alerts().deadLetterGrowthWindowSecs(), 300, "600", 600, "60", 60, "0", "between 1 and 86400"),
                new Row("alerts.dead_letter_growth_for_secs", c -> c.alerts().rule("dead_letter_growth").forSecs(), 0, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.dead_letter_growth_severity", c -> c.alerts().rule("dead_letter_growth").severity(), "warning", "\"critical\"", "critical", "INFO", "info", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.dead_letter_growth_labels", c -> c.alerts().rule("dead_letter_growth").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ severity = \"low\" }", "must not set the labels the alert sets itself"),
                new Row("alerts.limiter_degraded_for_secs", c -> c.alerts().rule("limiter_degraded").forSecs(), 30, "120", 120, "5", 5, "-1", "between 0 and 86400"),
                new Row("alerts.limiter_degraded_severity", c -> c.alerts().rule("limiter_degraded").severity(), "critical", "\"info\"", "info", "warning", "warning", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.limiter_degraded_labels", c -> c.alerts().rule("limiter_degraded").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ \"1x\" = \"a\" }", "must name labels with letters"),
                new Row("alerts.watchdog_severity", c -> c.alerts().rule("watchdog").severity(), "none", "\"warning\"", "warning", "none", "none", "\"urgent\"", "one of \"critical\", \"warning\", \"info\", \"none\""),
                new Row("alerts.watchdog_labels", c -> c.alerts().rule("watchdog").labels(), Map.of(), "{ team = \"platform\" }", Map.of("team", "platform"), "team=infra,tier=1", Map.of("team", "infra", "tier", "1"), "{ node = \"n\" }", "must not set the labels the alert sets itself"));
    }

    /**
     * The [alerts] keys are read, reported and shown in this order: the first bad one named in an error, and the
     * config view's order, stay as they were before the rules became a table.
     */
    @Test
    void alertKeysAreReadInTheirDocumentedOrder() {
        List<String> order = ConfigLoader.knownKeys().stream().filter(k -> k.startsWith("alerts.")).toList();
        List<String> expected = new java.util.ArrayList<>(List.of("alerts.breaker_inhibits", "alerts.rate_window_secs",
                "alerts.rate_min_operations"));
        for (String rule : AlertsConfig.RULES) {
            String threshold = switch (rule) {
                case "node_down" -> "missed_heartbeats";
                case "backlog_not_draining" -> "age_secs";
                case "breaker_not_closed", "limiter_degraded", "watchdog" -> null;
                default -> "threshold";
            };
            if (threshold != null) {
                expected.add("alerts." + rule + "_" + threshold);
            }
            if (rule.equals("dead_letter_growth")) {
                expected.add("alerts.dead_letter_growth_window_secs");
            }
            if (!rule.equals("watchdog")) {
                expected.add("alerts." + rule + "_for_secs");
            }
            expected.add("alerts." + rule + "_severity");
            expected.add("alerts." + rule + "_labels");
        }
        assertThat(order).containsExactlyElementsOf(expected);
        assertThatThrownBy(() -> ConfigLoader.parse("[alerts]\npool_usage_threshold = 2.0\n"
                + "dead_letter_growth_window_secs = 0\n", Map.of()))
                .hasMessageContaining("alerts.pool_usage_threshold");
    }

    @Test
    void everyKnownKeyHasARow() {
        Set<String> covered = rows().stream().map(Row::key).collect(Collectors.toSet());
        assertThat(covered).containsExactlyInAnyOrderElementsOf(ConfigLoader.knownKeys());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void defaultValue(Row row) {
        assertThat(row.get().apply(ConfigLoader.parse("", Map.of()))).isEqualTo(row.defaultValue());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void fileOverride(Row row) {
        String toml = "[" + row.section() + "]\n" + row.name() + " = " + row.toml() + "\n";
        assertThat(row.get().apply(ConfigLoader.parse(toml, Map.of()))).isEqualTo(row.overridden());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void environmentOverrideWinsOverFile(Row row) {
        String toml = "[" + row.section() + "]\n" + row.name() + " = " + row.toml() + "\n";
        SluiceConfig config = ConfigLoader.parse(toml, Map.of(row.envName(), row.env()));
        assertThat(row.get().apply(config)).isEqualTo(row.fromEnv());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void invalidValueNamesKeyValueAndRule(Row row) {
        String toml = "[" + row.section() + "]\n" + row.name() + " = " + row.invalid() + "\n";
        assertThatThrownBy(() -> ConfigLoader.parse(toml, Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(row.key())
                .hasMessageContaining(row.rule())
                .satisfies(e -> assertThat(((ConfigException) e).key()).isEqualTo(row.key()));
    }


    @Test
    void aShortClusterSecretIsRefusedWithoutShowingIt() {
        assertThatThrownBy(() -> ConfigLoader.parse("", Map.of("SLUICE_CLUSTER_SECRET", "hunter2-hunter2")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cluster.secret must be at least 16 characters")
                .hasMessageContaining("15 characters")
                .hasMessageNotContaining("hunter2")
                .satisfies(e -> assertThat(((ConfigException) e).value()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> ConfigLoader.parse("[cluster]\nsecret = \"                \"\n", Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("not blank");
    }

    @Test
    void theClusterSecretNeverShows() {
        SluiceConfig c = ConfigLoader.parse("[cluster]\nsecret = \"0123456789abcdef-file\"\n", Map.of());
        assertThat(c.cluster().authenticatesControlMessages()).isTrue();
        assertThat(c.cluster().toString()).doesNotContain("0123456789abcdef").contains("secret=***");
        assertThat(ConfigView.redacted(c).get("cluster")).containsEntry("secret", ConfigView.HIDDEN);
        assertThat(ConfigView.redacted(SluiceConfig.ofDefaults()).get("cluster")).containsEntry("secret", "");
        assertThat(SluiceConfig.ofDefaults().cluster().authenticatesControlMessages()).isFalse();
    }

    @Test
    void urisAreParsedIntoTheirParts() {
        SluiceConfig c = ConfigLoader.parse("[redis]\nurl = \"rediss://app:pw@cache:6380/2\"\n", Map.of());
        assertThat(c.redis().url()).isEqualTo(URI.create("rediss://app:pw@cache:6380/2"));
        assertThat(c.redis().tls()).isTrue();
    }
}
