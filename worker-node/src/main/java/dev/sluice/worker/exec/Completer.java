package dev.sluice.worker.exec;

import dev.sluice.worker.batch.BatchWriter;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.JobConsumer;
import dev.sluice.worker.queue.Refused;

import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Gathers completions (acks, retries, dead letters, hand-backs) from all job slots and applies them in batches on
 * one thread (a {@link BatchWriter}): one pooled connection and one round trip for many jobs. A batch that fails
 * (Redis down), and every completion Redis refuses (full, read-only), is applied again until Redis takes it or the
 * completer is closed, so a finished job is never forgotten; its entry stays pending in Redis meanwhile, so a crash
 * loses nothing either.
 */
final class Completer implements AutoCloseable {
    private static final int MAX_BATCH = 1_000;

    private final JobConsumer queue;
    private final BatchWriter<Completion, Void> writer;

    Completer(JobConsumer queue, LoopWatch watch) {
        this.queue = queue;
        this.writer = BatchWriter.named("completer", "sluice-completer").maxBatch(MAX_BATCH).watchedBy(watch)
                .closedMessage("completer closed; the entries stay pending in Redis").start(this::apply);
    }

    CompletableFuture<Void> submit(Completion completion) {
        return writer.submit(completion);
    }

    private void apply(List<BatchWriter.Item<Completion, Void>> batch) {
        List<Refused> refused = queue.complete(batch.stream().map(BatchWriter.Item::request).toList());
        // Refused completions changed nothing in Redis; their jobs stay pending and are applied again, with whatever
        // arrived meanwhile, until Redis takes them.
        Set<Completion> again = Collections.newSetFromMap(new IdentityHashMap<>());
        refused.forEach(r -> again.add(r.completion()));
        for (BatchWriter.Item<Completion, Void> item : batch) {
            if (!again.contains(item.request())) {
                item.answer(null);
            }
        }
    }

    @Override
    public void close() {
        writer.close(Duration.ofSeconds(10));
    }
}
