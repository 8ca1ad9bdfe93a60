package dev.sluice.worker.queue.redis;

import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.Refused;
import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.job.JobCodec;
import dev.sluice.control.Backfills;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.control.DeadLetterStore;
import dev.sluice.worker.pool.RedisConnections;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.exceptions.JedisDataException;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * What the two Redis adapters share, written once: their collaborators, the dead-letter port (the dead letters are a
 * stream in both modes), and the promotion of due retries from the delayed set back to the queue's key.
 */
public abstract class RedisJobQueue implements JobQueue {
    protected final QueueConfig config;
    protected final DeadLetterStore deadLetters;
    protected final String nodeId;
    protected final RedisConnections redis;
    protected final JobCodec codec;
    protected final Backfills backfills;
    protected final Clock clock;
    protected final FetcherConnection fetcher;
    private final String key;
    private final String promoteScript;

    /**
     * @param key            the queue's key: the stream, or the waiting list
     * @param promoteScript  moves due retries from the delayed set to {@code key}
     */
    protected RedisJobQueue(QueueConfig config, String nodeId, RedisConnections redis, Clock clock, String key,
                  String promoteScript) {
        this.config = config;
        this.deadLetters = new DeadLetterStore(config);
        this.nodeId = nodeId;
        this.redis = redis;
        this.codec = new JobCodec(config.maxJobBytes());
        this.backfills = new Backfills(key);
        this.clock = clock;
        this.fetcher = new FetcherConnection(redis, config.maxJobBytes());
        this.key = key;
        this.promoteScript = promoteScript;
    }

    @Override
    public int promoteDue(int max) {
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        try {
            return ((Long) j.eval(promoteScript, List.of(config.delayed(), key), List.of(Integer.toString(max))))
                    .intValue();
        } catch (JedisDataException e) {
            throw redis.refusals().refused("promote", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
    }

    /** Writes a batch's completions into one pipeline; {@link #completeInPipeline} sends it and reads the replies. */
    @FunctionalInterface
    protected interface CompletionWriter {
        void write(Pipeline pipeline, Replies replies);
    }

    /**
     * Applies a batch of completions on the writers' lane in one round trip, reading every reply: those Redis
     * refused come back, connection failures are thrown.
     */
    protected final List<Refused> completeInPipeline(List<Completion> batch, CompletionWriter writer) {
        if (batch.isEmpty()) {
            return List.of();
        }
        return redis.withWriterJedis(j -> {
            Pipeline p = j.pipelined();
            Replies replies = new Replies(redis.refusals());
            writer.write(p, replies);
            p.sync();
            return replies.read();
        });
    }

    /**
     * The keys of a dead-lettering script: the adapter's own {@code first} keys, the dead-letter stream, and the
     * backfill's record when the job belongs to one (where its dead end is counted).
     */
    protected final List<byte[]> deadLetterKeys(Completion.DeadLetter d, String... first) {
        List<String> keys = new ArrayList<>(List.of(first));
        keys.add(config.deadLetter());
        if (d.delivery().batch() != null) {
            keys.add(backfills.key(d.delivery().batch()));
        }
        return DeadLetters.utf8(keys.toArray(String[]::new));
    }

    @Override
    public List<DeadLetterEntry> deadLetters(int count) {
        return redis.withJedis(j -> deadLetters.newest(j, count));
    }

    @Override
    public int replayDeadLetters(Collection<String> deadLetterIds) {
        return redis.withJedis(j -> deadLetters.replay(j, deadLetterIds)
                .getOrDefault(DeadLetterStore.Outcome.REPLAYED, List.of()).size());
    }

    @Override
    public long trimDeadLetters() {
        return DeadLetters.trim(redis, config.deadLetter(), clock, config.deadLetterRetentionDays());
    }

    @Override
    public void close() {
        fetcher.close();
    }
}
