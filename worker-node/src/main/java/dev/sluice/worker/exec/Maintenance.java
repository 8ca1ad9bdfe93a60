package dev.sluice.worker.exec;

import dev.sluice.worker.health.LoopWatch;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.QueueStats;
import dev.sluice.worker.queue.StreamJobQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The node's periodic Redis work, all on one thread so it never holds more than one pooled connection: keeping
 * in-flight jobs fresh, refreshing queue statistics, trimming dead letters and removing idle consumers that hold
 * nothing. (Due retries are promoted by the fetcher, on its own connection, so keeping jobs fresh never waits
 * behind a large promotion.) Each task is a loop of the {@link LoopWatch}: one that stops coming round fails the
 * node's liveness.
 */
public final class Maintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Maintenance.class);

    private final JobQueue queue;
    private final Worker worker;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private volatile QueueStats lastStats;
    private volatile Instant lastStatsAt;
    private volatile String lastStatsFailure;

    private final LoopWatch watch;
    private final List<LoopWatch.Loop> loops = new CopyOnWriteArrayList<>();

    /**
     * @param clock  stamps each statistics sample, for readiness checks
     * @param watch  watches each task, and takes their errors
     */
    public Maintenance(JobQueue queue, Worker worker, Clock clock, LoopWatch watch) {
        this.queue = queue;
        this.worker = worker;
        this.clock = clock;
        this.watch = watch;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                .name("sluice-maintenance").daemon().unstarted(r));
    }

    /** @param keepAliveEvery how often in-flight jobs are marked fresh (well inside the visibility timeout) */
    public void start(Duration keepAliveEvery) {
        every(keepAliveEvery, "keep-alive", () -> queue.keepAlive(worker.inFlight()));
        every(Duration.ofSeconds(2), "stats", this::refreshStats);
        every(Duration.ofMinutes(10), "trim-dead-letters", queue::trimDeadLetters);
        if (queue instanceof StreamJobQueue stream) {
            every(Duration.ofMinutes(5), "remove-idle-consumers", () -> stream.removeIdleConsumers(Duration.ofHours(1).toMillis()));
        }
    }

    private void refreshStats() {
        try {
            lastStats = queue.stats();
            lastStatsAt = clock.instant();
            lastStatsFailure = null;
        } catch (RuntimeException e) {
            lastStatsFailure = e.toString();
            throw e;
        }
    }

    /** The queue's statistics as last sampled (every 2 s), or null before the first sample. */
    public QueueStats lastStats() {
        return lastStats;
    }

    /** When {@link #lastStats()} was sampled, or null before the first sample. */
    public Instant lastStatsAt() {
        return lastStatsAt;
    }

    /** Why the latest attempt to sample the statistics failed, or null when it succeeded. */
    public String lastStatsFailure() {
        return lastStatsFailure;
    }

    /** Runs {@code task} on the maintenance thread (one pooled connection at a time). */
    public void schedule(Duration every, String name, Runnable task) {
        every(every, name, task);
    }

    private void every(Duration period, String name, Runnable task) {
        LoopWatch.Loop loop = watch.register(name, period, () -> true);
        loops.add(loop);
        scheduler.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (Exception e) {
                log.warn("maintenance task {} failed: {}", name, e.toString());
            } catch (Error e) {
                // A scheduled task's error would only cancel its schedule, unseen: hand it on as a thread's would be.
                watch.uncaughtHandler().uncaughtException(Thread.currentThread(), e);
                throw e;
            }
            loop.tick();
        }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
    }

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
