package dev.sluice.worker.exec;

import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.QueueStats;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.ToDoubleFunction;

/**
 * The node's periodic Redis work, all on one thread so it never holds more than one pooled connection: keeping
 * in-flight jobs fresh, refreshing queue statistics, trimming dead letters and removing idle consumers that hold
 * nothing. (Due retries are promoted by the fetcher, on its own connection, so keeping jobs fresh never waits
 * behind a large promotion.) Each task is a loop of the {@link LoopWatch}: one that stops coming round fails the
 * node's liveness.
 */
public final class Maintenance implements AutoCloseable, MeterBinder {
    private final JobQueue queue;
    private final Worker worker;
    private final Periodic tasks;
    private final Clock clock;
    private volatile QueueStats lastStats;
    private volatile Instant lastStatsAt;
    private volatile String lastStatsFailure;

    /**
     * @param clock  stamps each statistics sample, for readiness checks
     * @param watch  watches each task, and takes their errors
     */
    public Maintenance(JobQueue queue, Worker worker, Clock clock, LoopWatch watch) {
        this.queue = queue;
        this.worker = worker;
        this.clock = clock;
        this.tasks = new Periodic("sluice-maintenance", watch);
    }

    /** @param keepAliveEvery how often in-flight jobs are marked fresh (well inside the visibility timeout) */
    public void start(Duration keepAliveEvery) {
        every(keepAliveEvery, "keep-alive", () -> queue.keepAlive(worker.inFlight()));
        every(Duration.ofSeconds(2), "stats", this::refreshStats);
        every(Duration.ofMinutes(10), "trim-dead-letters", queue::trimDeadLetters);
        every(Duration.ofMinutes(5), "tidy-queue", () -> queue.tidy(Duration.ofHours(1)));
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

    /** The queue's counts as last sampled ({@code sluice_queue_*}); NaN before the first sample. */
    @Override
    public void bindTo(MeterRegistry meters) {
        queueGauge(meters, "sluice.queue.waiting", QueueStats::waiting, "Jobs waiting in the queue, as last sampled");
        queueGauge(meters, "sluice.queue.pending", QueueStats::pending,
                "Jobs delivered and not yet acknowledged, on all nodes, as last sampled");
        queueGauge(meters, "sluice.queue.delayed", QueueStats::delayed, "Jobs waiting for a retry, as last sampled");
        queueGauge(meters, "sluice.queue.dead", QueueStats::dead, "Jobs in the dead-letter stream, as last sampled");
        Gauge.builder("sluice.queue.oldest_waiting_age", this,
                        m -> m.lastStats() == null ? Double.NaN : m.lastStats().oldestWaitingAgeMs() / 1000.0)
                .description("Age of the oldest waiting job, as last sampled").baseUnit("seconds").register(meters);
    }

    private void queueGauge(MeterRegistry meters, String name, ToDoubleFunction<QueueStats> value, String description) {
        Gauge.builder(name, this, m -> m.lastStats() == null ? Double.NaN : value.applyAsDouble(m.lastStats()))
                .description(description).register(meters);
    }

    /** Runs {@code task} on the maintenance thread (one pooled connection at a time). */
    public void schedule(Duration every, String name, Runnable task) {
        every(every, name, task);
    }

    private void every(Duration period, String name, Runnable task) {
        tasks.every(period, name, task);
    }

    @Override
    public void close() {
        tasks.close();
    }
}
