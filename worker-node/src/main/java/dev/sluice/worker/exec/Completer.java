package dev.sluice.worker.exec;

import dev.sluice.worker.health.LoopWatch;
import dev.sluice.worker.health.Loops;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.JobConsumer;
import dev.sluice.worker.queue.Refused;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Gathers completions (acks, retries, dead letters, hand-backs) from all job slots and applies them in batches on
 * one thread: one pooled connection and one round trip for many jobs. A batch that fails (Redis down), and every
 * completion Redis refuses (full, read-only), is applied again until Redis takes it or the completer is closed, so
 * a finished job is never forgotten; its entry stays pending in Redis meanwhile, so a crash loses nothing either.
 */
final class Completer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Completer.class);
    private static final int MAX_BATCH = 1_000;

    private record Item(Completion completion, CompletableFuture<Void> done) {
    }

    private final JobConsumer queue;
    private final BlockingQueue<Item> items = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    private final LoopWatch.Loop loop;
    private final List<Item> batch = new ArrayList<>(MAX_BATCH);
    private volatile int held;

    Completer(JobConsumer queue, LoopWatch watch) {
        this.queue = queue;
        this.loop = watch.register("completer", Duration.ofSeconds(5), () -> held > 0 || !items.isEmpty());
        this.thread = Thread.ofPlatform().name("sluice-completer").daemon()
                .uncaughtExceptionHandler(watch.uncaughtHandler()).start(() -> {
                    boolean ended = false;
                    try {
                        Loops.restarting("completer", this::run);
                        ended = true;
                        loop.stopped();
                    } finally {
                        if (!ended) {
                            // Ended by an error: nobody waits for an answer that cannot come (their jobs stay pending).
                            loop.died();
                            running = false;
                            failAll(new IllegalStateException("the completer ended by an error; the entries stay pending"));
                        }
                    }
                });
    }

    CompletableFuture<Void> submit(Completion completion) {
        Item item = new Item(completion, new CompletableFuture<>());
        items.add(item);
        if (!thread.isAlive()) {
            failAll(new IllegalStateException("the completer is not running; the entry stays pending"));
        }
        return item.done();
    }

    /** The completer's life; an exception escaping it restarts it with the batch it held (see {@link Loops}). */
    private void run() {
        long backoffMs = 50;
        while (running || !items.isEmpty() || !batch.isEmpty()) {
            loop.tick();
            held = batch.size();
            try {
                if (batch.isEmpty()) {
                    Item first = items.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                }
                items.drainTo(batch, MAX_BATCH - batch.size());
                held = batch.size();
                List<Refused> refused = queue.complete(batch.stream().map(Item::completion).toList());
                if (refused.isEmpty()) {
                    batch.forEach(i -> i.done().complete(null));
                    batch.clear();
                    backoffMs = 50;
                    continue;
                }
                // Refused completions changed nothing in Redis; their jobs stay pending and are applied again,
                // with whatever arrived meanwhile, until Redis takes them.
                Set<Completion> again = Collections.newSetFromMap(new IdentityHashMap<>());
                refused.forEach(r -> again.add(r.completion()));
                batch.removeIf(i -> {
                    if (again.contains(i.completion())) {
                        return false;
                    }
                    i.done().complete(null);
                    return true;
                });
                TimeUnit.MILLISECONDS.sleep(backoffMs);
                backoffMs = Math.min(backoffMs * 2, 2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException e) {
                if (!running) {
                    break;
                }
                log.warn("applying {} completion(s) failed, retrying in {} ms: {}", batch.size(), backoffMs, e.toString());
                try {
                    Thread.sleep(backoffMs);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
                backoffMs = Math.min(backoffMs * 2, 2_000);
            }
        }
        failAll(new IllegalStateException("completer closed; the entries stay pending in Redis"));
    }

    private void failAll(RuntimeException why) {
        batch.forEach(i -> i.done().completeExceptionally(why));
        batch.clear();
        Item i;
        while ((i = items.poll()) != null) {
            i.done().completeExceptionally(why);
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            thread.interrupt();
        }
    }
}
