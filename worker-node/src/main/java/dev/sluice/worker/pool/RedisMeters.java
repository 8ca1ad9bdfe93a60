package dev.sluice.worker.pool;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.concurrent.TimeUnit;

/**
 * The Redis pool's meters: its state as the monitor last sampled it ({@code sluice_redis_pool_*}), the borrow wait,
 * and the node's Redis operations and failures since start as counters ({@code sluice_redis_*_total}).
 */
public record RedisMeters(RedisConnections redis, PoolMonitor monitor) implements MeterBinder {

    @Override
    public void bindTo(MeterRegistry meters) {
        Timer borrowWait = Timer.builder("sluice.redis.pool.borrow.wait")
                .description("Time waiting to borrow a pooled Redis connection")
                .publishPercentiles(0.5, 0.99).register(meters);
        redis.onBorrowWait(nanos -> borrowWait.record(nanos, TimeUnit.NANOSECONDS));
        Gauge.builder("sluice.redis.pool.active", monitor, m -> m.poolHealth().active())
                .description("Pooled Redis connections in use").register(meters);
        Gauge.builder("sluice.redis.pool.idle", monitor, m -> m.poolHealth().idle())
                .description("Pooled Redis connections idle").register(meters);
        Gauge.builder("sluice.redis.pool.waiters", monitor, m -> m.poolHealth().waiters())
                .description("Threads waiting to borrow a pooled Redis connection").register(meters);
        Gauge.builder("sluice.redis.pool.max", monitor, m -> m.poolHealth().max())
                .description("Size of the shared Redis pool (redis.pool_size)").register(meters);
        Gauge.builder("sluice.redis.pool.availability", monitor, m -> m.poolHealth().availability())
                .description("Share of pooled Redis connections free: (max - active) / max").register(meters);
        Gauge.builder("sluice.redis.pool.under_pressure", monitor, m -> m.isUnderPressure() ? 1 : 0)
                .description("1 while the pool's availability is below redis.pressure_threshold").register(meters);
        FunctionCounter.builder("sluice.redis.pool.borrow.timeouts", redis, RedisConnections::borrowTimeouts)
                .description("Borrows of a pooled Redis connection that timed out, since start").register(meters);
        FunctionCounter.builder("sluice.redis.operations", redis, RedisConnections::operations)
                .description("Redis operations, since start").register(meters);
        FunctionCounter.builder("sluice.redis.failures", redis, RedisConnections::errors)
                .description("Redis operations that failed (errors, and writes Redis refused), since start; "
                        + "sluice_redis_errors_total counts the refusals by command and reason").register(meters);
        Gauge.builder("sluice.redis.refusing_writes", redis, r -> r.refusals().refusing() ? 1 : 0)
                .description("1 while Redis refuses this node's writes (full, read-only): no new work is taken")
                .register(meters);
    }
}
