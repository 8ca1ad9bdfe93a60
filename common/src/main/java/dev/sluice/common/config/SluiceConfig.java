package dev.sluice.common.config;

import java.util.Map;

/**
 * The whole configuration of a Sluice process, immutable and validated. Built by {@link ConfigLoader}; a value
 * that passed loading never needs checking again.
 */
public record SluiceConfig(NodeConfig node, RedisConfig redis, QueueConfig queue, HubConfig hub,
                           BreakerConfig breaker, RetryConfig retry, SinkConfig sink, ClusterConfig cluster,
                           KafkaConfig kafka, MetricsConfig metrics,
                           CoordinatorConfig coordinator, AlertsConfig alerts) {

    /** Every default, no file, no environment. */
    public static SluiceConfig ofDefaults() {
        return ConfigLoader.parse("", Map.of());
    }

    static SluiceConfig read(ConfigReader r) {
        return new SluiceConfig(
                NodeConfig.read(r),
                RedisConfig.read(r),
                QueueConfig.read(r),
                HubConfig.read(r),
                BreakerConfig.read(r),
                RetryConfig.read(r),
                SinkConfig.read(r),
                ClusterConfig.read(r),
                KafkaConfig.read(r),
                MetricsConfig.read(r),
                CoordinatorConfig.read(r),
                AlertsConfig.read(r));
    }
}
