package dev.sluice.worker.pool;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisDataException;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Error replies from Redis to writes the node needs confirmed (result writes, completions, enqueues): Redis full
 * under {@code noeviction} ({@code OOM}), a replica ({@code READONLY}), a key of the wrong type, a failing
 * snapshot ({@code MISCONF}), a missing permission. Every reply of a pipeline is read, and each error reply comes
 * here.
 *
 * <p>Each refusal is counted by command and reason ({@code sluice_redis_errors_total}) and logged without
 * flooding (the first at once, then a summary at most every {@link #LOG_EVERY}). The node is <em>refusing</em>
 * from the first refusal until a write is confirmed again; listeners hear both edges, so the fetcher stops taking
 * new work while Redis would not let it finish any.
 */
public final class RedisRefusals {
    private static final Logger log = LoggerFactory.getLogger(RedisRefusals.class);
    static final Duration LOG_EVERY = Duration.ofSeconds(10);
    private static final Pattern CODE = Pattern.compile("\\b(OOM|READONLY|WRONGTYPE|MISCONF|NOPERM|NOAUTH|LOADING|BUSY"
            + "|MASTERDOWN|NOREPLICAS|EXECABORT|NOSCRIPT|CROSSSLOT|CLUSTERDOWN)\\b");

    private final MeterRegistry meters;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final LongAdder total = new LongAdder();
    private final List<Consumer<Boolean>> listeners = new CopyOnWriteArrayList<>();
    private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - LOG_EVERY.toNanos());
    private final LongAdder sinceLog = new LongAdder();
    private volatile boolean refusing;
    private volatile String lastRefusal;

    public RedisRefusals(MeterRegistry meters) {
        this.meters = meters;
    }

    /** Counts only, for tools and tests that export no metrics. */
    public static RedisRefusals unmetered() {
        return new RedisRefusals(new SimpleMeterRegistry());
    }

    /**
     * The short reason of an error reply: its error code ({@code OOM}, {@code READONLY}, ...), also when Redis
     * wraps it in a script error, else {@code ERR}.
     */
    public static String reason(String errorReply) {
        if (errorReply == null || errorReply.isBlank()) {
            return "ERR";
        }
        Matcher m = CODE.matcher(errorReply);
        if (m.find()) {
            return m.group(1);
        }
        String first = errorReply.strip().split("\\s+", 2)[0];
        return first.matches("[A-Z]{2,16}") ? first : "ERR";
    }

    /**
     * Records that Redis refused {@code command} (a command or script name, e.g. {@code SET} or
     * {@code complete-retry}) and returns the failure to hand to whoever waited for the write.
     */
    public RedisRefusal refused(String command, JedisDataException reply) {
        String message = reply.getMessage() == null ? reply.toString() : reply.getMessage();
        String reason = reason(message);
        counters.computeIfAbsent(command + "\u0000" + reason, k -> Counter.builder("sluice.redis.errors")
                .description("Error replies from Redis to this node's writes, by command and reason (OOM, READONLY, "
                        + "WRONGTYPE, ...); the write is not acknowledged and is tried again")
                .tag("command", command).tag("reason", reason).register(meters)).increment();
        total.increment();
        sinceLog.increment();
        lastRefusal = command + ": " + message;
        if (!refusing) {
            refusing = true;
            log.warn("Redis refuses writes ({} on {}: {}); jobs stay pending, and this node takes no new work until "
                    + "Redis accepts writes again", reason, command, message);
            listeners.forEach(l -> l.accept(true));
        }
        long now = System.nanoTime();
        long last = lastLogNanos.get();
        if (now - last >= LOG_EVERY.toNanos() && lastLogNanos.compareAndSet(last, now)) {
            long n = sinceLog.sumThenReset();
            if (n > 1) {
                log.warn("Redis refused {} write(s) in the last {} s; latest: {} ({})", n, LOG_EVERY.toSeconds(),
                        reason, lastRefusal);
            }
        }
        return new RedisRefusal(command, reason, message, reply);
    }

    /** A write was confirmed: Redis accepts writes (again). */
    public void accepted() {
        if (refusing) {
            refusing = false;
            log.info("Redis accepts writes again (refused {} in all since start)", total.sum());
            listeners.forEach(l -> l.accept(false));
        }
    }

    /** True from a refusal until the next confirmed write. */
    public boolean refusing() {
        return refusing;
    }

    /** The latest refusal, "command: error reply", or null when there has been none. */
    public String lastRefusal() {
        return lastRefusal;
    }

    /** Refusals since start. */
    public long total() {
        return total.sum();
    }

    /** Hears {@code true} when Redis starts refusing writes, {@code false} when it accepts them again. */
    public void addListener(Consumer<Boolean> listener) {
        listeners.add(listener);
    }
}
