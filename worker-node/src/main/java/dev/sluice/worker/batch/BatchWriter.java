package dev.sluice.worker.batch;

import dev.sluice.common.health.LoopWatch;
import dev.sluice.common.health.Loops;
import dev.sluice.common.health.RetryDelay;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One thread that applies the requests of many threads in batches: while a batch is being applied, new requests
 * queue, and the next batch takes them all (up to a maximum). One connection and one round trip serve many
 * requests, and the round trip stays short under load instead of growing with a queue.
 *
 * <p>Applying a batch answers each of its items, or leaves it unanswered: what is left is applied again after a
 * backoff (50 ms doubling to 2 s), together with whatever came meanwhile, until it is answered or the writer is
 * closed. A writer that keeps what it is given (the completer) leaves what Redis refused; one that does not (the
 * sink, the limiter's store calls) answers every item, some with the failure.
 *
 * <p>A watched writer ({@link Builder#watchedBy}) is a loop of the node's {@link LoopWatch}: it has work while a
 * batch is held or requests wait, it is restarted after an exception, and when it ends by an error every waiting
 * request fails at once instead of waiting for an answer that cannot come.
 *
 * @param <Q> a request
 * @param <A> its answer
 */
public final class BatchWriter<Q, A> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BatchWriter.class);
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(50);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(2);

    /** A request and its answer. */
    public record Item<Q, A>(Q request, CompletableFuture<A> answer) {
        /** Answers the item. */
        public void answer(A value) {
            answer.complete(value);
        }

        /** Fails the item with {@code why}. */
        public void fail(Throwable why) {
            answer.completeExceptionally(why);
        }
    }

    /**
     * Applies a batch: answers (or fails) each item it is done with and leaves the others to be applied again. An
     * exception leaves every unanswered item.
     */
    @FunctionalInterface
    public interface Apply<Q, A> {
        void apply(List<Item<Q, A>> batch) throws Exception;
    }

    private final String name;
    private final int maxBatch;
    private final Apply<Q, A> apply;
    private final String closedMessage;
    private final BlockingQueue<Item<Q, A>> queue = new LinkedBlockingQueue<>();
    private final List<Item<Q, A>> held;
    private final LoopWatch.Loop loop;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean stopNow;
    private volatile boolean closing;
    /** Set before the thread fails what is left, its last act: a request queued after that is failed by its sender. */
    private volatile boolean ended;
    private volatile int holding;

    private BatchWriter(Builder builder, Apply<Q, A> apply) {
        this.name = builder.name;
        this.maxBatch = builder.maxBatch;
        this.apply = apply;
        this.closedMessage = builder.closedMessage;
        this.held = new ArrayList<>(maxBatch);
        LoopWatch watch = builder.watch;
        Thread.Builder.OfPlatform thread = Thread.ofPlatform().name(builder.threadName).daemon();
        if (watch == null) {
            this.loop = null;
            this.thread = thread.unstarted(() -> {
                try {
                    run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    // Also after an Error: nothing waits for an answer that cannot come.
                    ended = true;
                    failAll(closedMessage);
                }
            });
        } else {
            this.loop = watch.register(name, Duration.ofSeconds(5), () -> holding > 0 || !queue.isEmpty());
            this.thread = thread.uncaughtExceptionHandler(watch.uncaughtHandler()).unstarted(() -> {
                boolean returned = false;
                try {
                    Loops.restarting(name, this::run);
                    returned = true;
                    loop.stopped();
                } finally {
                    if (!returned) {
                        loop.died();
                        running = false;
                        ended = true;
                        failAll("the " + name + " ended by an error");
                    }
                }
                ended = true;
                failAll(closedMessage);
            });
        }
        this.thread.start();
    }

    /** A writer named {@code name} (its loop's name, and in messages) on a thread named {@code threadName}. */
    public static Builder named(String name, String threadName) {
        return new Builder(name, threadName);
    }

    /** What a writer is given before it starts. */
    public static final class Builder {
        private final String name;
        private final String threadName;
        private int maxBatch = 500;
        private LoopWatch watch;
        private String closedMessage;

        private Builder(String name, String threadName) {
            this.name = name;
            this.threadName = threadName;
            this.closedMessage = "the " + name + " is closed";
        }

        /** The most items in one batch; default 500. */
        public Builder maxBatch(int maxBatch) {
            if (maxBatch < 1) {
                throw new IllegalArgumentException("maxBatch must be at least 1, but was " + maxBatch);
            }
            this.maxBatch = maxBatch;
            return this;
        }

        /** Makes the writer a loop of {@code watch}. */
        public Builder watchedBy(LoopWatch watch) {
            this.watch = watch;
            return this;
        }

        /** What an item still waiting when the writer closes fails with. */
        public Builder closedMessage(String closedMessage) {
            this.closedMessage = closedMessage;
            return this;
        }

        /** Starts the writer's thread. */
        public <Q, A> BatchWriter<Q, A> start(Apply<Q, A> apply) {
            return new BatchWriter<>(this, apply);
        }
    }

    /** Queues a request; its answer completes when a batch answers it, or fails when the writer cannot. */
    public CompletableFuture<A> submit(Q request) {
        Item<Q, A> item = new Item<>(request, new CompletableFuture<>());
        queue.add(item);
        if (ended || stopNow || !thread.isAlive()) {
            failAll(closing ? closedMessage : "the " + name + " is not running");
        }
        return item.answer();
    }

    /** The writer's life; returns when closed and everything it had is answered. */
    private void run() throws InterruptedException {
        RetryDelay delay = new RetryDelay(FIRST_BACKOFF, MAX_BACKOFF);
        while (!stopNow && (running || !queue.isEmpty() || !held.isEmpty())) {
            if (loop != null) {
                loop.tick();
            }
            holding = held.size();
            if (held.isEmpty()) {
                Item<Q, A> first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                held.add(first);
            }
            queue.drainTo(held, maxBatch - held.size());
            holding = held.size();
            Exception failure = null;
            try {
                apply.apply(held);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                failure = e;
            }
            int applied = held.size();
            held.removeIf(i -> i.answer().isDone());
            holding = held.size();
            if (failure != null) {
                log.warn("{}: applying {} item(s) failed, trying the {} left again: {}", name, applied, held.size(),
                        failure.toString());
            }
            if (held.isEmpty()) {
                delay.reset();
                continue;
            }
            Thread.sleep(delay.next());
        }
    }

    private synchronized void failAll(String why) {
        RuntimeException failure = new IllegalStateException(why);
        if (!thread.isAlive() || Thread.currentThread() == thread) {
            held.forEach(i -> i.fail(failure));
            held.clear();
        }
        Item<Q, A> i;
        while ((i = queue.poll()) != null) {
            i.fail(failure);
        }
    }

    /**
     * Stops taking new work: what was queued and held is applied until answered or {@code drain} has passed, then
     * the thread is interrupted and whatever is left fails.
     */
    public void close(Duration drain) {
        closing = true;
        running = false;
        if (drain.isZero()) {
            stopNow = true;
            thread.interrupt();
        }
        try {
            thread.join(drain.toMillis() + (drain.isZero() ? 1_000 : 0));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            stopNow = true;
            thread.interrupt();
        }
        failAll(closedMessage);
    }

    /** Closes with no drain: waiting requests fail at once. */
    @Override
    public void close() {
        close(Duration.ZERO);
    }
}
