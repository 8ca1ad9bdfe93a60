package dev.sluice.worker.sink;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import dev.sluice.worker.batch.BatchWriter;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.pool.RedisRefusal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.SetParams;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;

/**
 * Writes each result to {@code <target><job id>} with the retention as expiry: idempotent by job id. Writes from
 * all job slots are gathered by one writer thread (a {@link BatchWriter}) and sent as one pipeline, so the sink needs
 * one pooled connection however many jobs write at once.
 */
public final class RedisSink implements ResultSink {
    private static final Logger log = LoggerFactory.getLogger(RedisSink.class);
    private static final int MAX_BATCH = 500;

    private record Write(Job job, byte[] result) {
    }

    private final RedisConnections redis;
    private final String prefix;
    private final long retentionSecs;
    private final BatchWriter<Write, Void> writer;

    /** @param watch watches the writer thread, and takes its errors */
    public RedisSink(RedisConnections redis, String prefix, int retentionDays, LoopWatch watch) {
        this.redis = redis;
        this.prefix = prefix;
        this.retentionSecs = Duration.ofDays(retentionDays).toSeconds();
        this.writer = BatchWriter.named("sink-writer", "sluice-redis-sink").maxBatch(MAX_BATCH).watchedBy(watch)
                .closedMessage("the sink writer is closed").start(this::flush);
    }

    @Override
    public void write(Job job, byte[] result) throws InterruptedException {
        try {
            writer.submit(new Write(job, result)).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RedisRefusal refusal) {
                // Not the job's fault: rescheduled without spending an attempt (the Hub answered).
                throw SluiceException.notAttempted(ErrorKind.REDIS_UNAVAILABLE, "writing the result of " + job.id()
                        + " was refused: " + refusal.getMessage(), refusal.suggestedDelay());
            }
            throw new SluiceException(ErrorKind.SINK_FAILURE, "writing the result of " + job.id() + " failed: " + e.getCause(),
                    e.getCause());
        }
    }

    /** The key a job's result is stored under. */
    public String keyFor(String jobId) {
        return prefix + jobId;
    }

    /** Writes a batch as one pipeline and answers every write: a failed batch fails them all (their jobs retry). */
    private void flush(List<BatchWriter.Item<Write, Void>> batch) {
        try {
            List<Response<String>> replies = redis.withWriterJedis(j -> {
                Pipeline p = j.pipelined();
                SetParams expiry = SetParams.setParams().ex(retentionSecs);
                List<Response<String>> out = new ArrayList<>(batch.size());
                for (BatchWriter.Item<Write, Void> w : batch) {
                    out.add(p.set(keyFor(w.request().job().id()).getBytes(StandardCharsets.UTF_8), w.request().result(),
                            expiry));
                }
                p.sync();
                return out;
            });
            // Every reply is read: a write Redis refused (full, read-only) fails its job, which is then not acked.
            boolean anyAccepted = false;
            for (int i = 0; i < batch.size(); i++) {
                BatchWriter.Item<Write, Void> w = batch.get(i);
                try {
                    replies.get(i).get();
                    anyAccepted = true;
                    w.answer(null);
                } catch (JedisDataException refused) {
                    w.fail(redis.refusals().refused("SET", refused));
                }
            }
            if (anyAccepted) {
                redis.refusals().accepted();
            }
        } catch (RuntimeException e) {
            log.debug("sink batch of {} failed", batch.size(), e);
            for (BatchWriter.Item<Write, Void> w : batch) {
                w.fail(e);
            }
        }
    }

    @Override
    public void close() {
        writer.close(Duration.ofSeconds(5));
    }
}
