package dev.sluice.common.event;

import org.jspecify.annotations.Nullable;
import java.util.Map;

/**
 * The typed payloads of node events. Each has a stable type name used on the wire ({@link #type()}); a reader that
 * meets a type it does not know skips the record and counts it.
 */
public sealed interface EventPayload {

    /** The wire name of this payload's type. */
    String type();

    /** A node joined: what it runs. */
    record NodeStarted(String queueMode, int concurrency, int poolSize, long heartbeatIntervalMs) implements EventPayload {
        public static final String TYPE = "node-started";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /** A node is leaving on purpose (SIGTERM, drain); the coordinator does not call it down. */
    record NodeStopping(String reason) implements EventPayload {
        public static final String TYPE = "node-stopping";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /**
     * Every few seconds: monotonic counters since the node started (the coordinator computes rates from their
     * deltas and notices restarts when they go down), the pool now, breaker states, limiter state, the queue now.
     */
    record Heartbeat(long intervalMs, Counters counters, PoolSample pool, Map<String, String> breakers,
                     String limiterState, @Nullable QueueSample queue, @Nullable FleetSample fleet)
            implements EventPayload {
        public static final String TYPE = "heartbeat";

        /** A heartbeat without the fleet sample (as nodes before it sent them). */
        public Heartbeat(long intervalMs, Counters counters, PoolSample pool, Map<String, String> breakers,
                         String limiterState, @Nullable QueueSample queue) {
            this(intervalMs, counters, pool, breakers, limiterState, queue, null);
        }

        @Override
        public String type() {
            return TYPE;
        }
    }

    /** A circuit breaker changed state. */
    record BreakerTransition(String breaker, String from, String to, float failureRatePercent, int failedCalls,
                             int bufferedCalls) implements EventPayload {
        public static final String TYPE = "breaker-transition";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /** The Redis pool entered ({@code entered}) or left pressure; the sample that crossed the threshold. */
    record PoolPressure(boolean entered, PoolSample pool) implements EventPayload {
        public static final String TYPE = "pool-pressure";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /** A job went to the dead-letter queue. */
    record JobDeadLettered(String jobId, String kind, String reason, int attempts) implements EventPayload {
        public static final String TYPE = "job-dead-lettered";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /** The fleet limiter fell back to its store-failure policy ({@code degraded}) or recovered. */
    record LimiterState(boolean degraded, String reason, String policy) implements EventPayload {
        public static final String TYPE = "limiter-state";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /**
     * The node took up a version of the fleet's live Hub limits (from the limits record in Redis): at start, and at
     * every change an operator made. Every node publishes it, so the coordinator sees which nodes follow which.
     *
     * @param version              the version, increasing
     * @param maxRequestsPerSecond the fleet's rate limit
     * @param maxInFlight          the fleet's in-flight limit
     * @param changedBy            who made the version ({@code config of <node>} when a node's file seeded it)
     * @param changedAtMs          when (epoch ms, Redis's clock)
     * @param previousVersion      the version this node followed before, 0 at its start
     */
    record LimitsChanged(long version, int maxRequestsPerSecond, int maxInFlight, String changedBy, long changedAtMs,
                         long previousVersion) implements EventPayload {
        public static final String TYPE = "limits-changed";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /**
     * The fleet was paused or resumed (the fleet record in Redis), as a node took it up. Every node publishes it; the
     * same {@code atMs} from several nodes is one change.
     *
     * @param paused whether the fleet is paused now
     * @param by     who paused or resumed it
     * @param atMs   when, by Redis's clock (epoch ms)
     * @param reason what they gave for it (may be empty)
     */
    record PauseChanged(boolean paused, String by, long atMs, String reason) implements EventPayload {
        public static final String TYPE = "pause-changed";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /**
     * An operator's change made through the coordinator (pause, resume, limits, a dead-letter replay or discard),
     * published by the coordinator under the node id {@code coordinator}; the coordinator's state keeps no node for
     * it.
     *
     * @param by     the name of the token the request carried
     * @param action what: {@code pause}, {@code resume}, {@code set-limits}, {@code dlq-replay}, {@code dlq-replay-all},
     *               {@code dlq-discard}
     * @param detail what came of it
     * @param atMs   when (epoch ms)
     */
    record OperatorAction(String by, String action, String detail, long atMs) implements EventPayload {
        public static final String TYPE = "operator-action";
        /** The node id the coordinator publishes them under. */
        public static final String SOURCE = "coordinator";

        @Override
        public String type() {
            return TYPE;
        }
    }

    /**
     * Monotonic counters since the node started.
     *
     * @param jobsDone            jobs acknowledged
     * @param jobsFailedByKind    failed attempts by error kind tag
     * @param jobsDeadLettered    jobs dead-lettered
     * @param hubRequests         requests sent to the Hub
     * @param hubTimeouts         Hub connect and request timeouts
     * @param hubRateLimited      Hub 429 answers
     * @param hubErrors           other failed Hub requests (5xx, refused)
     * @param redisOperations     Redis operations (borrows of the shared pool and fetches)
     * @param redisErrors         failed Redis operations
     * @param connectionTimeouts  Redis borrow and socket timeouts plus Hub connect and request timeouts
     * @param eventsDropped       events this node dropped because its buffer was full
     */
    record Counters(long jobsDone, Map<String, Long> jobsFailedByKind, long jobsDeadLettered, long hubRequests,
                    long hubTimeouts, long hubRateLimited, long hubErrors, long redisOperations, long redisErrors,
                    long connectionTimeouts, long eventsDropped) {
    }

    /** A sample of a node's Redis pool. */
    record PoolSample(int max, int active, int idle, int waiters, double meanBorrowWaitMs, double availability) {
        /** active / max, as the seed's alert speaks of it. */
        public double usage() {
            return 1.0 - availability;
        }
    }

    /** The shared queue as a node saw it. */
    record QueueSample(long waiting, long pending, long delayed, long dead, long oldestWaitingAgeMs) {
    }

    /**
     * What a node holds of the fleet's limits now.
     *
     * @param permitsHeld  fleet in-flight permits this node holds, in use or kept for its next requests (-1: the node
     *                     has no fleet limiter)
     * @param jobsInFlight jobs this node runs now
     */
    record FleetSample(int permitsHeld, int jobsInFlight) {
    }
}
