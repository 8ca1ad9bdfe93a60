package dev.sluice.common.config;

/** {@code sink.kind}: where results go. */
public enum SinkKind implements Choice {
    /** A hash per job, keyed by job id. */
    REDIS,
    /** A record per job on a topic, keyed by job id. */
    KAFKA
}
