package dev.sluice.worker.queue;



/**
 * The Redis queue as one adapter serves it: its consumer ({@link JobConsumer}), producer ({@link JobProducer}) and
 * dead-letter ({@link DeadLetterQueue}) ports. Two adapters implement it, a stream with a consumer group and lists for
 * producers that LPUSH, sharing what they can in {@code queue.redis.RedisJobQueue}; one contract test suite runs against both.
 */
public interface JobQueue extends JobConsumer, JobProducer, DeadLetterQueue, AutoCloseable {

    /** {@code stream} or {@code list}. */
    String mode();

    QueueStats stats();

    @Override
    void close();
}
