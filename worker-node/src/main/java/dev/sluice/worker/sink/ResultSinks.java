package dev.sluice.worker.sink;

import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.config.SinkConfig;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.pool.RedisConnections;

/** Makes the sink that {@code sink.kind} names, bounded by {@code sink.max_concurrent_writes}. */
public final class ResultSinks {
    private ResultSinks() {
    }

    public static ResultSink create(SinkConfig sink, KafkaConfig kafka, String nodeId, RedisConnections redis,
                                    LoopWatch watch) {
        ResultSink raw = switch (sink.kind()) {
            case KAFKA -> new KafkaSink(kafka, sink.target(), "sluice-sink-" + nodeId);
            case REDIS -> new RedisSink(redis, sink.target(), sink.resultRetentionDays(), watch);
        };
        return new BoundedSink(raw, sink.maxConcurrentWrites());
    }
}
