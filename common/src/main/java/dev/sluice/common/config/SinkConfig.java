package dev.sluice.common.config;

import java.util.List;

/**
 * {@code [sink]}: where results go. Both sinks are idempotent by job id.
 *
 * @param kind                 {@code redis} (a hash per job, keyed by job id) or {@code kafka} (a record keyed by job id)
 * @param maxConcurrentWrites  writes in flight per node (the seed's database semaphore)
 * @param target               key prefix (redis) or topic (kafka)
 * @param resultRetentionDays  stored results expire after this many days (redis)
 */
public record SinkConfig(String kind, int maxConcurrentWrites, String target, int resultRetentionDays) {

    static SinkConfig read(ConfigReader r) {
        String kind = r.oneOf("sink.kind", "redis", List.of("redis", "kafka"));
        return new SinkConfig(kind,
                r.intIn("sink.max_concurrent_writes", 8, 1, 1_000),
                r.nonBlank("sink.target", kind.equals("redis") ? "sluice:result:" : "sluice.results"),
                r.intIn("sink.result_retention_days", 7, 1, 3_650));
    }
}
