package dev.sluice.coordinator.dashboard;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.control.Backfills;
import dev.sluice.control.DeadLetterStore;
import dev.sluice.control.FleetRecord;
import dev.sluice.control.FleetState;
import dev.sluice.control.RedisClients;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

import java.time.Duration;
import java.util.List;
import java.util.function.Function;

/**
 * The coordinator's way to the fleet's record in Redis ({@code [redis]}): reads the live limits, the pause and the
 * audit stream for the dashboard, and makes the operators' changes. Changes go through the record only, never to a
 * node: every node follows it within 2 s, with Kafka up or down. A Redis that cannot be reached is said once when it
 * starts and once when it ends.
 */
public final class FleetControl implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FleetControl.class);

    private final ConnectionPool pool;
    private final FleetRecord record;
    private final DeadLetterStore deadLetters;
    private final Backfills backfills;
    private final String where;
    private volatile String problem;
    private volatile OperatorEvents events;

    public FleetControl(SluiceConfig config) {
        GenericObjectPoolConfig<Connection> pc = new GenericObjectPoolConfig<>();
        pc.setMaxTotal(8);
        pc.setMaxIdle(8);
        pc.setMaxWait(Duration.ofMillis(config.redis().connectionTimeoutMs()));
        pc.setJmxEnabled(false);
        this.pool = new ConnectionPool(RedisClients.address(config.redis()),
                RedisClients.clientConfig(config.redis(), "sluice-coordinator", config.redis().connectionTimeoutMs()), pc);
        this.record = new FleetRecord(config.cluster().name());
        this.deadLetters = new DeadLetterStore(config.queue());
        this.backfills = new Backfills(config.queue().key());
        this.where = config.redis().redactedUrl();
    }

    /** The fleet's record, its newest audit entries and the newest backfills (null when unreadable), as read now. */
    public record Read(FleetState state, List<FleetRecord.AuditEntry> audit, Backfills.Reading backfills) {
    }

    /** Reads the record, the newest {@code auditEntries} audit entries and the newest {@code backfills} backfills. */
    public Read read(int auditEntries, int backfills) {
        return call(j -> {
            FleetState state = record.read(j);
            List<FleetRecord.AuditEntry> audit = record.recentAudit(j, auditEntries);
            Backfills.Reading reading;
            try {
                reading = this.backfills.recent(j, backfills);
            } catch (JedisDataException e) {
                // A backfill key of the wrong type (written by hand) hides the backfills, not the limits and pause.
                log.debug("cannot read the backfills: {}", e.getMessage());
                reading = null;
            }
            return new Read(state, audit, reading);
        });
    }

    /** The newest {@code max} backfills. */
    public Backfills.Reading backfills(int max) {
        return call(j -> backfills.recent(j, max));
    }

    public FleetRecord.Change pause(String by, String reason) {
        return call(j -> record.setPaused(j, true, by, reason));
    }

    public FleetRecord.Change resume(String by, String reason) {
        return call(j -> record.setPaused(j, false, by, reason));
    }

    public FleetRecord.Change setLimits(Long expectedVersion, int rps, int inFlight, String by) {
        return call(j -> record.setLimits(j, expectedVersion, rps, inFlight, by));
    }

    /** Runs {@code work} on a connection with the dead-letter store ({@code [queue]}). */
    public <T> T deadLetters(java.util.function.BiFunction<Jedis, DeadLetterStore, T> work) {
        return call(j -> work.apply(j, deadLetters));
    }

    /** Where the operators' changes are published (Kafka); none until set. */
    public void publishTo(OperatorEvents events) {
        this.events = events;
    }

    /** Publishes an operator's change made through the record's own scripts (already audited in Redis). */
    public void announce(String by, String action, String detail) {
        OperatorEvents e = events;
        if (e != null) {
            e.publish(by, action, detail);
        }
    }

    /** Writes an audit entry (who, what) to the fleet's audit stream, and publishes it. */
    public void audit(String by, String action, String detail) {
        call(j -> {
            record.audit(j, by, action, detail);
            return null;
        });
        announce(by, action, detail);
    }

    /** What reaching Redis last failed with, or null while it answers. */
    public String problem() {
        return problem;
    }

    public String key() {
        return record.key();
    }

    private <T> T call(Function<Jedis, T> work) {
        try (Jedis j = new Jedis(pool.getResource())) {
            T result = work.apply(j);
            if (problem != null) {
                log.info("Redis at {} answers again", where);
                problem = null;
            }
            return result;
        } catch (FleetRecord.BadRecord | IllegalArgumentException e) {
            throw e;
        } catch (JedisDataException e) {
            // Redis answered, and refused: full (OOM under noeviction), a read-only replica, a script error. It is
            // reachable, so the dashboard keeps reading; the operation fails with Redis's own words.
            throw new RedisUnavailable("Redis at " + where + " refused it: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            String message = "Redis at " + where + " cannot be reached: " + e.getMessage();
            if (problem == null) {
                log.warn("{}; the dashboard shows no limits or pause and operations are refused until it answers",
                        message);
            }
            problem = message;
            throw new RedisUnavailable(message, e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }

    /** Redis could not be reached, or refused the call (the message says which). */
    public static final class RedisUnavailable extends RuntimeException {
        RedisUnavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
