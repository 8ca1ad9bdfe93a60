package dev.sluice.coordinator.state;

import dev.sluice.common.event.EventPayload.Counters;

/**
 * Amounts of work and trouble: either the deltas between two heartbeats of a node, or their sum over a window.
 *
 * @param jobsDone            jobs acknowledged
 * @param jobsFailed          failed attempts, every error kind
 * @param jobsDeadLettered    jobs dead-lettered
 * @param hubRequests         requests sent to the Hub
 * @param hubTimeouts         Hub connect and request timeouts
 * @param hubRateLimited      Hub 429 answers
 * @param hubErrors           other failed Hub requests
 * @param redisOperations     Redis operations
 * @param redisErrors         failed Redis operations
 * @param connectionTimeouts  Redis borrow and socket timeouts plus Hub connect and request timeouts
 * @param eventsDropped       events the node dropped because its buffer was full
 */
public record Counts(long jobsDone, long jobsFailed, long jobsDeadLettered, long hubRequests, long hubTimeouts,
                     long hubRateLimited, long hubErrors, long redisOperations, long redisErrors,
                     long connectionTimeouts, long eventsDropped) {

    public static final Counts ZERO = new Counts(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** The counters of a heartbeat as amounts (what has happened since the node started). */
    public static Counts of(Counters c) {
        long failed = c.jobsFailedByKind() == null ? 0
                : c.jobsFailedByKind().values().stream().mapToLong(v -> v == null ? 0 : v).reduce(0, Counts::sum);
        return new Counts(c.jobsDone(), failed, c.jobsDeadLettered(), c.hubRequests(), c.hubTimeouts(),
                c.hubRateLimited(), c.hubErrors(), c.redisOperations(), c.redisErrors(), c.connectionTimeouts(),
                c.eventsDropped());
    }

    /**
     * What happened between two readings of a node's monotonic counters. If any counter went down the node has
     * restarted in between and its counters began again from zero, so the new reading is the delta.
     */
    public static Counts delta(Counts previous, Counts current) {
        if (current.isBelowAnywhere(previous)) {
            return current;
        }
        return current.minus(previous);
    }

    /** True when any counter here is lower than in {@code other}: the mark of a counter restart. */
    public boolean isBelowAnywhere(Counts other) {
        return jobsDone < other.jobsDone || jobsFailed < other.jobsFailed || jobsDeadLettered < other.jobsDeadLettered
                || hubRequests < other.hubRequests || hubTimeouts < other.hubTimeouts
                || hubRateLimited < other.hubRateLimited || hubErrors < other.hubErrors
                || redisOperations < other.redisOperations || redisErrors < other.redisErrors
                || connectionTimeouts < other.connectionTimeouts || eventsDropped < other.eventsDropped;
    }

    /**
     * The sum; a count that would overflow stays at {@code Long.MAX_VALUE} (counters are never negative, but nodes
     * that report huge ones and restart often could otherwise wrap a window's sum round to a negative).
     */
    public Counts plus(Counts o) {
        return new Counts(sum(jobsDone, o.jobsDone), sum(jobsFailed, o.jobsFailed),
                sum(jobsDeadLettered, o.jobsDeadLettered), sum(hubRequests, o.hubRequests),
                sum(hubTimeouts, o.hubTimeouts), sum(hubRateLimited, o.hubRateLimited), sum(hubErrors, o.hubErrors),
                sum(redisOperations, o.redisOperations), sum(redisErrors, o.redisErrors),
                sum(connectionTimeouts, o.connectionTimeouts), sum(eventsDropped, o.eventsDropped));
    }

    private static long sum(long a, long b) {
        long s = a + b;
        // Overflow only when both have the sign the sum lacks.
        if (((a ^ s) & (b ^ s)) < 0) {
            return s < 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
        }
        return s;
    }

    Counts minus(Counts o) {
        return new Counts(jobsDone - o.jobsDone, jobsFailed - o.jobsFailed, jobsDeadLettered - o.jobsDeadLettered,
                hubRequests - o.hubRequests, hubTimeouts - o.hubTimeouts, hubRateLimited - o.hubRateLimited,
                hubErrors - o.hubErrors, redisOperations - o.redisOperations, redisErrors - o.redisErrors,
                connectionTimeouts - o.connectionTimeouts, eventsDropped - o.eventsDropped);
    }

    /** Connection timeouts over Redis operations plus Hub requests; 0 when nothing was attempted. */
    public double connectionTimeoutRate() {
        return ratio(connectionTimeouts, redisOperations + hubRequests);
    }

    public double redisErrorRate() {
        return ratio(redisErrors, redisOperations);
    }

    /** Hub timeouts and other failures (not 429s) over Hub requests. */
    public double hubErrorRate() {
        return ratio(hubErrors + hubTimeouts, hubRequests);
    }

    public double hubRateLimitedRate() {
        return ratio(hubRateLimited, hubRequests);
    }

    private static double ratio(long part, long whole) {
        return whole <= 0 ? 0.0 : (double) part / whole;
    }
}
