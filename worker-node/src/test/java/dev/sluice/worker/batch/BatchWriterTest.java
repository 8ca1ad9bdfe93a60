package dev.sluice.worker.batch;

import dev.sluice.common.health.LoopWatch;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchWriterTest {

    @Test
    void requestsThatQueueWhileABatchIsOutGoTogetherInTheNextUpToTheMaximum() throws Exception {
        CountDownLatch firstOut = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
        try (BatchWriter<Integer, Integer> writer = BatchWriter.named("test", "test-writer").maxBatch(4)
                .start(batch -> {
                    sizes.add(batch.size());
                    firstOut.countDown();
                    release.await();
                    batch.forEach(i -> i.answer(i.request() * 10));
                })) {
            CompletableFuture<Integer> first = writer.submit(1);
            assertThat(firstOut.await(5, TimeUnit.SECONDS)).isTrue();
            List<CompletableFuture<Integer>> more = new ArrayList<>();
            for (int i = 2; i <= 7; i++) {
                more.add(writer.submit(i));
            }
            release.countDown();

            assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo(10);
            for (int i = 0; i < more.size(); i++) {
                assertThat(more.get(i).get(5, TimeUnit.SECONDS)).isEqualTo((i + 2) * 10);
            }
            assertThat(sizes).containsExactly(1, 4, 2);
        }
    }

    @Test
    void whatABatchLeavesUnansweredIsAppliedAgainWithWhatCameMeanwhile() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<List<String>> seen = Collections.synchronizedList(new ArrayList<>());
        try (BatchWriter<String, String> writer = BatchWriter.named("test", "test-writer").start(batch -> {
            seen.add(batch.stream().map(BatchWriter.Item::request).toList());
            int call = calls.incrementAndGet();
            for (BatchWriter.Item<String, String> item : batch) {
                // "refused" is left twice, then taken; an exception leaves everything once.
                if (call == 2) {
                    throw new IllegalStateException("Redis is down");
                }
                if (!item.request().equals("refused") || call >= 3) {
                    item.answer("done " + item.request());
                }
            }
        })) {
            CompletableFuture<String> refused = writer.submit("refused");
            CompletableFuture<String> taken = writer.submit("taken");

            assertThat(refused.get(5, TimeUnit.SECONDS)).isEqualTo("done refused");
            assertThat(taken.get(5, TimeUnit.SECONDS)).isEqualTo("done taken");
            assertThat(calls.get()).isEqualTo(3);
            assertThat(seen.get(1)).containsExactly("refused");
            assertThat(seen.get(2)).containsExactly("refused");
        }
    }

    @Test
    void closingDrainsWhatWasQueuedWithinTheDrainThenFailsTheRest() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BatchWriter<Integer, Integer> writer = BatchWriter.named("test", "test-writer").maxBatch(1)
                .closedMessage("test writer closed").start(batch -> {
                    release.await();
                    batch.forEach(i -> i.answer(i.request()));
                });
        CompletableFuture<Integer> a = writer.submit(1);
        CompletableFuture<Integer> b = writer.submit(2);
        release.countDown();
        writer.close(Duration.ofSeconds(5));

        assertThat(a.get(1, TimeUnit.SECONDS)).isEqualTo(1);
        assertThat(b.get(1, TimeUnit.SECONDS)).as("queued before close, drained").isEqualTo(2);
        assertThatThrownBy(() -> writer.submit(3).get(1, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("test writer closed");
    }

    @Test
    void closingWithoutDrainFailsWhatWaitsAtOnce() throws Exception {
        CountDownLatch out = new CountDownLatch(1);
        BatchWriter<Integer, Integer> writer = BatchWriter.named("test", "test-writer").maxBatch(1)
                .closedMessage("test writer closed").start(batch -> {
                    out.countDown();
                    Thread.sleep(60_000);
                });
        CompletableFuture<Integer> inFlight = writer.submit(1);
        assertThat(out.await(5, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Integer> waiting = writer.submit(2);

        long start = System.nanoTime();
        writer.close();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThatThrownBy(() -> waiting.get(1, TimeUnit.SECONDS)).hasMessageContaining("test writer closed");
        assertThatThrownBy(() -> inFlight.get(1, TimeUnit.SECONDS)).hasMessageContaining("test writer closed");
    }

    @Test
    void aWatchedWriterThatEndsByAnErrorFailsWhatWaitsAndShowsAsDead() throws Exception {
        LoopWatch watch = new LoopWatch(System::nanoTime, Duration.ofSeconds(30), error -> { });
        BatchWriter<Integer, Integer> writer = BatchWriter.named("test-loop", "test-writer").watchedBy(watch)
                .start(batch -> {
                    throw new AssertionError("a bug");
                });
        CompletableFuture<Integer> lost = writer.submit(1);

        assertThatThrownBy(() -> lost.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageContaining("the test-loop ended by an error");
        assertThat(watch.problems()).singleElement().satisfies(p -> assertThat(p).contains("test-loop"));
        // Submitted after the first failed: failed too, by the writer's last act or by the sender, whichever ran second
        // (CI saw both); never left waiting.
        assertThatThrownBy(() -> writer.submit(2).get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasMessageMatching(".*the test-loop (is not running|ended by an error)");
        writer.close();
    }
}
