package dev.sluice.common.config;

/** {@code queue.mode}: how jobs wait in Redis. */
public enum QueueMode implements Choice {
    /** A Redis stream read by a consumer group. */
    STREAM,
    /** A Redis list that producers LPUSH to, each node with a processing list of its own. */
    LIST
}
