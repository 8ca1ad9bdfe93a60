package dev.sluice.coordinator;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.event.EventPayload.Counters;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.common.event.EventPayload.QueueSample;

import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the events of one fake node: its sequence numbers, its monotonic counters (which the test raises) and its
 * current pool, breakers, limiter and queue, as a heartbeat would report them.
 */
public final class TestEvents {

    private final String node;
    private long sequence;
    private long intervalMs = 5_000;
    private long jobsDone;
    private long jobsDeadLettered;
    private long hubRequests;
    private long hubTimeouts;
    private long hubRateLimited;
    private long hubErrors;
    private long redisOperations;
    private long redisErrors;
    private long connectionTimeouts;
    private int poolMax = 20;
    private int poolActive = 2;
    private final Map<String, String> breakers = new TreeMap<>(Map.of("hub", "CLOSED"));
    private String limiter = "ok";
    private QueueSample queue = new QueueSample(100, 10, 0, 0, 1_000);

    public TestEvents(String node) {
        this.node = node;
    }

    public String node() {
        return node;
    }

    public TestEvents intervalMs(long intervalMs) {
        this.intervalMs = intervalMs;
        return this;
    }

    /** Adds work: jobs done, Redis operations and Hub requests, none failing. */
    public TestEvents work(long jobs, long redisOps, long hubCalls) {
        jobsDone += jobs;
        redisOperations += redisOps;
        hubRequests += hubCalls;
        return this;
    }

    public TestEvents connectionTimeouts(long n) {
        connectionTimeouts += n;
        return this;
    }

    public TestEvents hubTimeouts(long n) {
        hubTimeouts += n;
        connectionTimeouts += n;
        return this;
    }

    public TestEvents hubErrors(long n) {
        hubErrors += n;
        return this;
    }

    public TestEvents hubRateLimited(long n) {
        hubRateLimited += n;
        return this;
    }

    public TestEvents redisErrors(long n) {
        redisErrors += n;
        return this;
    }

    public TestEvents deadLettered(long n) {
        jobsDeadLettered += n;
        return this;
    }

    public TestEvents pool(int active, int max) {
        poolActive = active;
        poolMax = max;
        return this;
    }

    public TestEvents breaker(String name, String state) {
        breakers.put(name, state);
        return this;
    }

    public TestEvents limiter(String state) {
        limiter = state;
        return this;
    }

    public TestEvents oldestWaitingMs(long ageMs) {
        queue = new QueueSample(queue.waiting(), queue.pending(), queue.delayed(), queue.dead(), ageMs);
        return this;
    }

    /** A process restart: counters and sequence numbers start from zero again. */
    public TestEvents restartProcess() {
        sequence = 0;
        return resetCounters();
    }

    /** Counters from zero, sequence numbers going on: a restart only the counters tell of. */
    public TestEvents resetCounters() {
        jobsDone = jobsDeadLettered = hubRequests = hubTimeouts = hubRateLimited = hubErrors = 0;
        redisOperations = redisErrors = connectionTimeouts = 0;
        breakers.replaceAll((k, v) -> "CLOSED");
        limiter = "ok";
        return this;
    }

    public PoolSample poolSample() {
        double availability = (double) (poolMax - poolActive) / poolMax;
        return new PoolSample(poolMax, poolActive, poolMax - poolActive, 0, 0.5, availability);
    }

    public Event heartbeat(long timestampMs) {
        Counters counters = new Counters(jobsDone, Map.of(), jobsDeadLettered, hubRequests, hubTimeouts, hubRateLimited,
                hubErrors, redisOperations, redisErrors, connectionTimeouts, 0);
        return event(timestampMs, new EventPayload.Heartbeat(intervalMs, counters, poolSample(), Map.copyOf(breakers),
                limiter, queue));
    }

    public Event started(long timestampMs) {
        return event(timestampMs, new EventPayload.NodeStarted("stream", 250, poolMax, intervalMs));
    }

    public Event stopping(long timestampMs) {
        return event(timestampMs, new EventPayload.NodeStopping("SIGTERM"));
    }

    public Event breakerTransition(long timestampMs, String breaker, String from, String to) {
        breakers.put(breaker, to);
        return event(timestampMs, new EventPayload.BreakerTransition(breaker, from, to, 100f, 5, 5));
    }

    public Event poolPressure(long timestampMs, boolean entered) {
        return event(timestampMs, new EventPayload.PoolPressure(entered, poolSample()));
    }

    public Event limiterState(long timestampMs, boolean degraded) {
        limiter = degraded ? "degraded" : "ok";
        return event(timestampMs, new EventPayload.LimiterState(degraded, degraded ? "no majority" : null, "fail-closed"));
    }

    public Event event(long timestampMs, EventPayload payload) {
        return new Event(EventCodec.VERSION, node, timestampMs, sequence++, payload);
    }
}
