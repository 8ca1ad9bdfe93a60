package dev.sluice.worker.exec;

import dev.sluice.common.health.LoopWatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Periodic tasks on one thread of their own, each a loop of the {@link LoopWatch}: a task that stops coming round
 * fails the node's liveness, an exception is logged and the task runs again at its next turn, an error is handed to
 * the watch as an uncaught one would be.
 */
public final class Periodic implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Periodic.class);

    private final String thread;
    private final ScheduledExecutorService scheduler;
    private final LoopWatch watch;
    private final List<LoopWatch.Loop> loops = new CopyOnWriteArrayList<>();

    /** @param thread the thread's name */
    public Periodic(String thread, LoopWatch watch) {
        this.thread = thread;
        this.watch = watch;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name(thread).daemon()
                .unstarted(r));
    }

    /** Runs {@code task} now and then {@code every} after each run ends. */
    public void every(Duration every, String name, Runnable task) {
        LoopWatch.Loop loop = watch.register(name, every, () -> true);
        loops.add(loop);
        scheduler.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (Exception e) {
                log.warn("{} task {} failed: {}", thread, name, e.toString());
            } catch (Error e) {
                // A scheduled task's error would only cancel its schedule, unseen: hand it on as a thread's would be.
                watch.uncaughtHandler().uncaughtException(Thread.currentThread(), e);
                throw e;
            }
            loop.tick();
        }, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Stops every task; waits up to 5 s for a running one to end. */
    @Override
    public void close() {
        loops.forEach(LoopWatch.Loop::stopped);
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
