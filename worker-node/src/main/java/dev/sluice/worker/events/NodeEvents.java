package dev.sluice.worker.events;

import dev.sluice.common.event.EventPayload;
import dev.sluice.worker.exec.Maintenance;
import dev.sluice.worker.exec.Worker;
import dev.sluice.worker.hub.HubClient;
import dev.sluice.worker.hub.HubCounts;
import dev.sluice.worker.pool.PoolHealth;
import dev.sluice.worker.pool.PoolMonitor;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.QueueStats;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns what happens on this node into events: the listeners of the pool monitor, the worker's dead letters, and
 * a heartbeat with the node's monotonic counters. Breaker and limiter states are reported through
 * {@link #breakerState} and {@link #limiterState} by whoever owns them.
 */
public final class NodeEvents {
    private volatile java.util.function.IntSupplier permitsHeld = () -> -1;
    private final EventSink publisher;
    private final Worker worker;
    private final RedisConnections redis;
    private final HubClient hub;
    private final PoolMonitor pool;
    private final Maintenance maintenance;
    private final Map<String, String> breakers = new ConcurrentHashMap<>();
    private volatile String limiter = "ok";

    public NodeEvents(EventSink publisher, Worker worker, RedisConnections redis, HubClient hub, PoolMonitor pool,
                      Maintenance maintenance) {
        this.publisher = publisher;
        this.worker = worker;
        this.redis = redis;
        this.hub = hub;
        this.pool = pool;
        this.maintenance = maintenance;
        pool.addListener((entered, sample) -> publisher.publish(new EventPayload.PoolPressure(entered, sample(sample))));
        worker.onDeadLetter(this::deadLettered);
    }

    private void deadLettered(Completion.DeadLetter dead) {
        publisher.publish(new EventPayload.JobDeadLettered(dead.delivery().describe(), dead.kind().tag(),
                dead.reason(), dead.attempts()));
    }

    /** Records a breaker's state (for heartbeats) and publishes its transition. */
    public void breakerState(String breaker, String from, String to, float failureRatePercent, int failed, int buffered) {
        breakers.put(breaker, to);
        publisher.publish(new EventPayload.BreakerTransition(breaker, from, to, failureRatePercent, failed, buffered));
    }

    /** Records the limiter's state (for heartbeats) and publishes the change. */
    public void limiterState(boolean degraded, String reason, String policy) {
        limiter = degraded ? "degraded" : "ok";
        publisher.publish(new EventPayload.LimiterState(degraded, reason, policy));
    }

    public void started(String queueMode, int concurrency, int poolSize, long heartbeatIntervalMs) {
        publisher.publish(new EventPayload.NodeStarted(queueMode, concurrency, poolSize, heartbeatIntervalMs));
    }

    /** Where the heartbeat reads the fleet permits this node holds (-1 without a fleet limiter, the default). */
    public void permitsHeldFrom(java.util.function.IntSupplier permitsHeld) {
        this.permitsHeld = permitsHeld;
    }

    public void stopping(String reason) {
        publisher.publish(new EventPayload.NodeStopping(reason));
    }

    /** Publishes one heartbeat with the counters as they are now. */
    public void heartbeat(long intervalMs) {
        publisher.publish(heartbeatPayload(intervalMs));
    }

    EventPayload.Heartbeat heartbeatPayload(long intervalMs) {
        // Timeouts are read once and first: a failure counted between two reads must not make "other errors" negative
        // (the coordinator refuses negative counters).
        HubCounts hubCounts = hub.counts();
        long hubTimeouts = hubCounts.timeouts();
        long hubOtherErrors = Math.max(0, hubCounts.failures() - hubTimeouts);
        long connectionTimeouts = redis.borrowTimeouts() + redis.socketTimeouts() + hubTimeouts;
        EventPayload.Counters counters = new EventPayload.Counters(worker.jobsDone(), worker.failuresByKind(),
                worker.jobsDeadLettered(), hubCounts.requests(), hubTimeouts, hubCounts.rateLimited(), hubOtherErrors,
                redis.operations(), redis.errors(), connectionTimeouts, publisher.dropped());
        QueueStats q = maintenance.lastStats();
        EventPayload.QueueSample queue = q == null ? null
                : new EventPayload.QueueSample(q.waiting(), q.pending(), q.delayed(), q.dead(), q.oldestWaitingAgeMs());
        return new EventPayload.Heartbeat(intervalMs, counters, sample(pool.poolHealth()), Map.copyOf(breakers), limiter, queue,
                new EventPayload.FleetSample(permitsHeld.getAsInt(), worker.inFlightCount()));
    }

    static EventPayload.PoolSample sample(PoolHealth h) {
        return new EventPayload.PoolSample(h.max(), h.active(), h.idle(), h.waiters(), h.meanBorrowWaitMs(), h.availability());
    }

}
