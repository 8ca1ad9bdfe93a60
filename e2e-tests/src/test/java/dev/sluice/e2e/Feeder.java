package dev.sluice.e2e;

import dev.sluice.testkit.RedisServer;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keeps the job stream topped up so the workers never run dry (their own speed sets the rate), adds malformed jobs
 * on request, and every 50 ms samples how many good jobs are done: enqueued minus waiting or in flight
 * ({@code XLEN} of the stream: acknowledged entries are deleted) minus dead-lettered ({@code XLEN} of the
 * dead-letter stream). Enqueueing and sampling happen on one thread, so every sample is exact.
 */
final class Feeder implements AutoCloseable {

    static final String STREAM = "sluice:jobs";
    static final String DEAD = "sluice:dead";
    private static final Duration TICK = Duration.ofMillis(50);
    private static final int BATCH = 500;

    /** Good jobs done as of {@code nanos} ({@link System#nanoTime()}). */
    record Sample(long nanos, long done) {
    }

    private final RedisServer redis;
    private final int lowWater;
    private final List<Sample> samples = new CopyOnWriteArrayList<>();
    private final AtomicInteger malformedPerTick = new AtomicInteger();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long malformed;
    private volatile RuntimeException lastError;

    /** @param lowWater  when fewer jobs than this wait, {@value #BATCH} more are added */
    Feeder(RedisServer redis, int lowWater) {
        this.redis = redis;
        this.lowWater = lowWater;
        this.thread = Thread.ofPlatform().name("e2e-feeder").daemon().unstarted(this::run);
    }

    Feeder start() {
        thread.start();
        return this;
    }

    /** From now on, adds this many malformed jobs (no {@code key} field) every 50 ms. */
    void malformedPerTick(int n) {
        malformedPerTick.set(n);
    }

    /** Malformed jobs added so far. */
    long malformed() {
        return malformed;
    }

    RuntimeException lastError() {
        return lastError;
    }

    /** Good jobs done per second between two instants ({@link System#nanoTime()}), from the samples nearest them. */
    double rate(long fromNanos, long toNanos) {
        Sample first = null;
        Sample last = null;
        for (Sample s : samples) {
            if (first == null && s.nanos() >= fromNanos) {
                first = s;
            }
            if (s.nanos() <= toNanos) {
                last = s;
            }
        }
        if (first == null || last == null || last.nanos() <= first.nanos()) {
            throw new IllegalStateException("no samples between the two instants");
        }
        return (last.done() - first.done()) / ((last.nanos() - first.nanos()) / 1e9);
    }

    private void run() {
        long enqueued = 0;
        try (Jedis j = redis.newJedis()) {
            while (running) {
                try {
                    long waiting = j.xlen(STREAM);
                    Pipeline p = j.pipelined();
                    int added = 0;
                    if (waiting < lowWater) {
                        for (int i = 0; i < BATCH; i++) {
                            p.xadd(STREAM, StreamEntryID.NEW_ENTRY, Map.of("key", "feed-" + (enqueued + added)));
                            added++;
                        }
                    }
                    int bad = malformedPerTick.get();
                    for (int i = 0; i < bad; i++) {
                        p.xadd(STREAM, StreamEntryID.NEW_ENTRY, Map.of("payload", "{\"no\":\"key\"}"));
                    }
                    p.sync();
                    enqueued += added + bad;
                    malformed += bad;
                    long inStream = j.xlen(STREAM);
                    long dead = j.xlen(DEAD);
                    samples.add(new Sample(System.nanoTime(), enqueued - inStream - dead));
                } catch (RuntimeException e) {
                    lastError = e;
                }
                try {
                    Thread.sleep(TICK);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
