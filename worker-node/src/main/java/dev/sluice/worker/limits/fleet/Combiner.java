package dev.sluice.worker.limits.fleet;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Sends the store requests of many threads of one node as one store call at a time: while a call is out, new
 * requests queue, and they all go together in the next. A hot entry (the fleet's one permit table, its one
 * bucket) thus gets a handful of calls per round trip from each node however many threads wait, and the round
 * trip stays short under load instead of growing with the queue in front of the entry's partition thread.
 *
 * @param <Q> a request
 * @param <A> its answer
 */
final class Combiner<Q, A> implements AutoCloseable {

    /** One store call for a batch of requests; answers in the requests' order. Blocks until it has them. */
    @FunctionalInterface
    interface Call<Q, A> {
        List<A> send(List<Q> batch) throws Exception;
    }

    private record Pending<Q, A>(Q request, CompletableFuture<A> answer) {
    }

    private final LinkedBlockingQueue<Pending<Q, A>> queue = new LinkedBlockingQueue<>();
    private final Call<Q, A> call;
    private final int maxBatch;
    private final Thread sender;
    private volatile boolean closed;

    Combiner(String name, int maxBatch, Call<Q, A> call) {
        this.call = call;
        this.maxBatch = maxBatch;
        this.sender = Thread.ofPlatform().name(name).daemon().start(this::run);
    }

    /** Queues a request; the answer completes exceptionally with what the store call threw. */
    CompletableFuture<A> submit(Q request) {
        Pending<Q, A> pending = new Pending<>(request, new CompletableFuture<>());
        queue.add(pending);
        if (closed && queue.remove(pending)) {
            pending.answer().completeExceptionally(new IllegalStateException("the fleet limiter is closed"));
        }
        return pending.answer();
    }

    private void run() {
        List<Pending<Q, A>> batch = new ArrayList<>();
        while (!closed) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                break;
            }
            queue.drainTo(batch, maxBatch - 1);
            List<Q> requests = new ArrayList<>(batch.size());
            for (Pending<Q, A> p : batch) {
                requests.add(p.request());
            }
            try {
                List<A> answers = call.send(requests);
                for (int i = 0; i < batch.size(); i++) {
                    batch.get(i).answer().complete(answers.get(i));
                }
            } catch (Throwable e) {
                for (Pending<Q, A> p : batch) {
                    p.answer().completeExceptionally(e);
                }
            }
            batch.clear();
        }
        failQueued();
    }

    private void failQueued() {
        Pending<Q, A> p;
        while ((p = queue.poll()) != null) {
            p.answer().completeExceptionally(new IllegalStateException("the fleet limiter is closed"));
        }
    }

    @Override
    public void close() {
        closed = true;
        sender.interrupt();
        failQueued();
    }
}
