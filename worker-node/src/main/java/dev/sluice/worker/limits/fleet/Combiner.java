package dev.sluice.worker.limits.fleet;

import dev.sluice.worker.batch.BatchWriter;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Sends the store requests of many threads of one node as one store call at a time (a {@link BatchWriter}): while a
 * call is out, new requests queue, and they all go together in the next. A hot entry (the fleet's one permit table,
 * its one bucket) thus gets a handful of calls per round trip from each node however many threads wait, and the
 * round trip stays short under load instead of growing with the queue in front of the entry's partition thread.
 * A failed call fails its requests; nothing is sent again.
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

    private final BatchWriter<Q, A> writer;

    Combiner(String name, int maxBatch, Call<Q, A> call) {
        this.writer = BatchWriter.named(name, name).maxBatch(maxBatch).closedMessage("the fleet limiter is closed")
                .start(batch -> send(call, batch));
    }

    private static <Q, A> void send(Call<Q, A> call, List<BatchWriter.Item<Q, A>> batch) {
        List<Q> requests = new ArrayList<>(batch.size());
        for (BatchWriter.Item<Q, A> item : batch) {
            requests.add(item.request());
        }
        try {
            List<A> answers = call.send(requests);
            for (int i = 0; i < batch.size(); i++) {
                batch.get(i).answer(answers.get(i));
            }
        } catch (Throwable e) {
            for (BatchWriter.Item<Q, A> item : batch) {
                item.fail(e);
            }
        }
    }

    /** Queues a request; the answer completes exceptionally with what the store call threw. */
    CompletableFuture<A> submit(Q request) {
        return writer.submit(request);
    }

    @Override
    public void close() {
        writer.close();
    }
}
