package dev.sluice.worker;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.limits.LocalHubLimiter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.HashMap;
import java.util.Map;

/** Configurations for tests: defaults plus environment-style overrides, validated like the real thing. */
public final class TestConfigs {
    private TestConfigs() {
    }

    /** {@code overrides} are {@code section.key=value} pairs, e.g. {@code "redis.pool_size", "5"}. */
    public static SluiceConfig config(String redisUrl, String... overrides) {
        Map<String, String> env = new HashMap<>();
        env.put("SLUICE_REDIS_URL", redisUrl);
        env.put("SLUICE_METRICS_PORT", "0");
        env.put("SLUICE_KAFKA_ENABLED", "false");
        for (int i = 0; i + 1 < overrides.length; i += 2) {
            env.put("SLUICE_" + overrides[i].replace('.', '_').toUpperCase(java.util.Locale.ROOT), overrides[i + 1]);
        }
        return ConfigLoader.parse("", env);
    }

    /** A node without a cluster: a local limiter keeps the Hub's limits for this node alone. */
    public static WorkerNode standaloneNode(SluiceConfig config, MeterRegistry meters) {
        return new WorkerNode(config, meters,
                new LocalHubLimiter(config.hub().maxConcurrentConnections(), config.hub().maxRequestsPerSecond()));
    }
}
