package dev.sluice.worker.sink;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import dev.sluice.worker.health.LoopWatch;
import dev.sluice.worker.health.Loops;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Writes each result to {@code <target><job id>} with the retention as expiry: idempotent by job id. Writes from
 * all job slots are gathered by one writer thread and sent as one pipeline, so the sink needs one pooled
 * connection however many jobs write at once.
 */
public final class RedisSink implements ResultSink {
    private static final Logger log = LoggerFactory.getLogger(RedisSink.class);
    private static final int MAX_BATCH = 500;

    private record Write(Job job, byte[] result, CompletableFuture<Void> done) {
    }

    private final RedisConnections redis;
    private final String prefix;
    private final long retentionSecs;
    private final BlockingQueue<Write> pending = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean running = true;

    private final LoopWatch.Loop loop;
    /** Writes in the batch being flushed: a writer stuck inside Redis has work though nothing waits in the queue. */
    private volatile int flushing;

    /** @param watch watches the writer thread, and takes its errors */
    public RedisSink(RedisConnections redis, String prefix, int retentionDays, LoopWatch watch) {
        this.redis = redis;
        this.prefix = prefix;
        this.retentionSecs = Duration.ofDays(retentionDays).toSeconds();
        this.loop = watch.register("sink-writer", Duration.ofSeconds(5), () -> flushing > 0 || !pending.isEmpty());
        this.writer = Thread.ofPlatform().name("sluice-redis-sink").daemon()
                .uncaughtExceptionHandler(watch.uncaughtHandler()).start(() -> {
                    boolean ended = false;
                    try {
                        Loops.restarting("sink-writer", this::run);
                        ended = true;
                        loop.stopped();
                    } finally {
                        if (!ended) {
                            loop.died();
                            failPending();
                        }
                    }
                });
    }

    @Override
    public void write(Job job, byte[] result) throws InterruptedException {
        Write w = new Write(job, result, new CompletableFuture<>());
        pending.add(w);
        if (!writer.isAlive()) {
            failPending();
        }
        try {
            w.done().get();
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

    /** Fails every write waiting for the writer (it ended by an error): their jobs are retried, not left waiting. */
    private void failPending() {
        RuntimeException dead = new IllegalStateException("the sink writer ended by an error");
        Write w;
        while ((w = pending.poll()) != null) {
            w.done().completeExceptionally(dead);
        }
    }

    /** The key a job's result is stored under. */
    public String keyFor(String jobId) {
        return prefix + jobId;
    }

    private void run() {
        List<Write> batch = new ArrayList<>(MAX_BATCH);
        while (running || !pending.isEmpty()) {
            loop.tick();
            try {
                Write first = pending.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                pending.drainTo(batch, MAX_BATCH - 1);
                flushing = batch.size();
                flush(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                // Whatever was not answered (an exception escaped) fails now instead of leaving its job waiting.
                RuntimeException lost = new IllegalStateException("the sink writer failed before writing this result");
                batch.forEach(w -> w.done().completeExceptionally(lost));
                batch.clear();
                flushing = 0;
            }
        }
    }

    private void flush(List<Write> batch) {
        try {
            List<Response<String>> replies = redis.withWriterJedis(j -> {
                Pipeline p = j.pipelined();
                SetParams expiry = SetParams.setParams().ex(retentionSecs);
                List<Response<String>> out = new ArrayList<>(batch.size());
                for (Write w : batch) {
                    out.add(p.set(keyFor(w.job().id()).getBytes(StandardCharsets.UTF_8), w.result(), expiry));
                }
                p.sync();
                return out;
            });
            // Every reply is read: a write Redis refused (full, read-only) fails its job, which is then not acked.
            boolean anyAccepted = false;
            for (int i = 0; i < batch.size(); i++) {
                Write w = batch.get(i);
                try {
                    replies.get(i).get();
                    anyAccepted = true;
                    w.done().complete(null);
                } catch (JedisDataException refused) {
                    w.done().completeExceptionally(redis.refusals().refused("SET", refused));
                }
            }
            if (anyAccepted) {
                redis.refusals().accepted();
            }
        } catch (RuntimeException e) {
            log.debug("sink batch of {} failed", batch.size(), e);
            for (Write w : batch) {
                w.done().completeExceptionally(e);
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            writer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
