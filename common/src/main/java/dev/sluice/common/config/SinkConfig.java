package dev.sluice.common.config;


/**
 * {@code [sink]}: where results go. Both sinks are idempotent by job id.
 *
 * @param kind                 {@code redis} (a hash per job, keyed by job id) or {@code kafka} (a record keyed by job id)
 * @param maxConcurrentWrites  writes in flight per node (the seed's database semaphore)
 * @param target               key prefix (redis) or topic (kafka)
 * @param resultRetentionDays  stored results expire after this many days (redis)
 */
public record SinkConfig(SinkKind kind, int maxConcurrentWrites, String target, int resultRetentionDays) {

    static SinkConfig read(ConfigReader r) {
        SinkKind kind = r.choice("sink.kind", SinkKind.REDIS, SinkKind.class);
        return new SinkConfig(kind,
                r.intIn("sink.max_concurrent_writes", 8, 1, 1_000),
                r.nonBlank("sink.target", kind == SinkKind.REDIS ? "sluice:result:" : "sluice.results"),
                r.intIn("sink.result_retention_days", 7, 1, 3_650));
    }
}
