package dev.sluice.common.config;

/**
 * {@code [queue]}: where jobs wait and how they are delivered.
 *
 * @param mode                     {@code stream} (Redis stream and consumer group) or {@code list} (LPUSH producers)
 * @param stream                   the jobs stream
 * @param group                    the consumer group
 * @param list                     the jobs list in list mode
 * @param blockTimeoutMs           the fetcher's blocking read timeout
 * @param pressureBlockTimeoutMs   the shorter blocking read timeout used while the pool is under pressure
 * @param visibilityTimeoutSecs    a dead consumer's entries are claimed after this long
 * @param maxDeliveries            deliveries after which a job that keeps killing its worker is dead-lettered
 * @param deadLetter               the dead-letter stream
 * @param delayed                  the sorted set of jobs waiting for a retry
 * @param deadLetterRetentionDays  dead letters older than this are trimmed
 * @param maxJobBytes              a job larger than this is dead-lettered as oversized
 */
public record QueueConfig(QueueMode mode, String stream, String group, String list, int blockTimeoutMs,
                          int pressureBlockTimeoutMs, int visibilityTimeoutSecs, int maxDeliveries,
                          String deadLetter, String delayed, int deadLetterRetentionDays, int maxJobBytes) {

    /** The Redis key jobs wait in: {@code stream}, or {@code list} in list mode. */
    public String key() {
        return mode == QueueMode.LIST ? list : stream;
    }

    static QueueConfig read(ConfigReader r) {
        int block = r.intIn("queue.block_timeout_ms", 500, 1, 60_000);
        int pressureBlock = r.intIn("queue.pressure_block_timeout_ms", Math.min(100, block), 1, 60_000);
        if (pressureBlock > block) {
            throw ConfigReader.conflict("queue.pressure_block_timeout_ms", Integer.toString(pressureBlock),
                    "must not exceed queue.block_timeout_ms (" + block + ")");
        }
        return new QueueConfig(
                r.choice("queue.mode", QueueMode.STREAM, QueueMode.class),
                r.nonBlank("queue.stream", "sluice:jobs"),
                r.nonBlank("queue.group", "sluice"),
                r.nonBlank("queue.list", "sluice:queue"),
                block,
                pressureBlock,
                r.intIn("queue.visibility_timeout_secs", 30, 1, 86_400),
                r.intIn("queue.max_deliveries", 5, 1, 1_000),
                r.nonBlank("queue.dead_letter", "sluice:dead"),
                r.nonBlank("queue.delayed", "sluice:delayed"),
                r.intIn("queue.dead_letter_retention_days", 14, 1, 3_650),
                r.intIn("queue.max_job_bytes", 262_144, 64, 64 * 1024 * 1024));
    }
}
