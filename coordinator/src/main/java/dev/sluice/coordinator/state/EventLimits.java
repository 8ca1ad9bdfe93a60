package dev.sluice.coordinator.state;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.event.EventPayload.BreakerTransition;
import dev.sluice.common.event.EventPayload.Counters;
import dev.sluice.common.event.EventPayload.Heartbeat;
import dev.sluice.common.event.EventPayload.JobDeadLettered;
import dev.sluice.common.event.EventPayload.LimiterState;
import dev.sluice.common.event.EventPayload.LimitsChanged;
import dev.sluice.common.event.EventPayload.OperatorAction;
import dev.sluice.common.event.EventPayload.PauseChanged;
import dev.sluice.common.event.EventPayload.NodeStarted;
import dev.sluice.common.event.EventPayload.NodeStopping;
import dev.sluice.common.event.EventPayload.PoolPressure;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.common.event.EventPayload.QueueSample;

import java.io.Serial;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The values an event may carry before the cluster state takes it in. The events topic is open to anything that can
 * produce to it, and one value the state trusted blindly (a heartbeat interval of {@code Long.MAX_VALUE}) kept a node
 * alive forever and made every evaluation overflow. An event with a value outside these bounds is refused whole:
 *
 * <ul>
 *   <li>node id: 1 to {@value #MAX_NODE_ID} characters of letters, digits, '.', '_', ':' and '-' (the worker's
 *       {@code node.id} characters, with room to spare in length);</li>
 *   <li>heartbeat interval: 0 (not announced) or 100 ms to 10 minutes, the bounds of the coordinator's own
 *       {@code heartbeat_interval_ms};</li>
 *   <li>sequence number, counters, queue counts, pool figures, concurrency, attempts: not negative; a pool of at
 *       least one connection with no more active than it has; availability within [0, 1]; mean borrow wait finite
 *       and at most a day; the oldest waiting job's age -1 (unknown) to 100 years;</li>
 *   <li>event time: not negative, and not more than {@link #MAX_AHEAD} ahead of the time the coordinator observed it
 *       (the time is only checked: liveness and windows go by when the coordinator observed the event);</li>
 *   <li>names (breakers, breaker states, error kinds, queue mode, limiter state and policy): at most
 *       {@value #MAX_NAME} characters and no control characters; at most {@value #MAX_ENTRIES} breakers or error
 *       kinds.</li>
 * </ul>
 *
 * Free text (a stop reason, a limiter's reason: often an exception's message) is never a reason to refuse an event;
 * the state keeps its first {@value #MAX_TEXT} characters ({@link #text}).
 */
final class EventLimits {

    static final int MAX_NODE_ID = 200;
    static final int MAX_NAME = 200;
    static final int MAX_TEXT = 1_000;
    static final int MAX_ENTRIES = 100;
    static final Duration MIN_HEARTBEAT_INTERVAL = Duration.ofMillis(100);
    static final Duration MAX_HEARTBEAT_INTERVAL = Duration.ofMinutes(10);
    static final Duration MAX_AHEAD = Duration.ofDays(1);
    private static final double MAX_BORROW_WAIT_MS = Duration.ofDays(1).toMillis();
    private static final long MAX_AGE_MS = Duration.ofDays(36_525).toMillis();
    private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._:-]+");
    private static final int SHOWN = 60;

    private EventLimits() {
    }

    /** Why {@code event}, observed at {@code observedAt}, may not be applied; empty when it may. */
    static Optional<Rejection> check(Event event, Instant observedAt) {
        try {
            envelope(event, observedAt);
            payload(event.payload());
            return Optional.empty();
        } catch (Refused refused) {
            return Optional.of(refused.rejection);
        }
    }

    /** Why {@code nodeId} may not name a node; empty when it may. */
    static Optional<Rejection> checkNodeId(String nodeId) {
        try {
            nodeId(nodeId);
            return Optional.empty();
        } catch (Refused refused) {
            return Optional.of(refused.rejection);
        }
    }

    /** Free text as the state keeps it: at most {@value #MAX_TEXT} characters. */
    static String text(String text) {
        return text == null || text.length() <= MAX_TEXT ? text : text.substring(0, MAX_TEXT);
    }

    /** A value from an event as a log line may show it: its start, control characters escaped, and its length. */
    static String shown(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < Math.min(value.length(), SHOWN); i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c)) {
                s.append(String.format("\\u%04x", (int) c));
            } else {
                s.append(c);
            }
        }
        s.append('"');
        if (value.length() > SHOWN) {
            s.append("... (").append(value.length()).append(" characters)");
        }
        return s.toString();
    }

    private static void envelope(Event event, Instant observedAt) {
        nodeId(event.nodeId());
        if (event.sequence() < 0) {
            throw refused(Rejection.SEQUENCE, "sequence must not be negative, but was " + event.sequence());
        }
        long latest = observedAt.plus(MAX_AHEAD).toEpochMilli();
        if (event.timestampMs() < 0 || event.timestampMs() > latest) {
            throw refused(Rejection.TIMESTAMP, "event time must be between 0 and " + MAX_AHEAD.toHours()
                    + " h after it was observed (" + observedAt + "), but was " + event.timestampMs() + " ms");
        }
    }

    private static void nodeId(String id) {
        if (id == null || id.isEmpty() || id.length() > MAX_NODE_ID || !NODE_ID.matcher(id).matches()) {
            throw refused(Rejection.NODE_ID, "node id must be 1 to " + MAX_NODE_ID
                    + " letters, digits, '.', '_', ':' or '-', but was " + shown(id));
        }
    }

    private static void payload(EventPayload payload) {
        switch (payload) {
            case NodeStarted s -> {
                interval("node-started heartbeatIntervalMs", s.heartbeatIntervalMs());
                name("queue mode", s.queueMode());
                notNegative(Rejection.VALUE, "concurrency", s.concurrency());
                notNegative(Rejection.VALUE, "poolSize", s.poolSize());
            }
            case NodeStopping s -> {
                // Only free text.
            }
            case Heartbeat h -> {
                interval("heartbeat intervalMs", h.intervalMs());
                counters(h.counters());
                pool(h.pool());
                if (h.breakers() != null) {
                    entries("breakers", h.breakers());
                    h.breakers().forEach((breaker, state) -> {
                        name("breaker", breaker);
                        name("breaker state", state);
                    });
                }
                name("limiter state", h.limiterState());
                queue(h.queue());
                if (h.fleet() != null) {
                    if (h.fleet().permitsHeld() < -1) {
                        throw refused(Rejection.VALUE, "fleet.permitsHeld must be -1 (no fleet limiter) or more, but was "
                                + h.fleet().permitsHeld());
                    }
                    notNegative(Rejection.VALUE, "fleet.jobsInFlight", h.fleet().jobsInFlight());
                }
            }
            case BreakerTransition t -> {
                name("breaker", t.breaker());
                name("breaker state", t.from());
                name("breaker state", t.to());
                float rate = t.failureRatePercent();
                if (!(rate >= -1 && rate <= 100)) {
                    throw refused(Rejection.VALUE, "failureRatePercent must be -1 (not known) to 100, but was " + rate);
                }
                notNegative(Rejection.VALUE, "failedCalls", t.failedCalls());
                notNegative(Rejection.VALUE, "bufferedCalls", t.bufferedCalls());
            }
            case PoolPressure p -> pool(p.pool());
            case JobDeadLettered d -> notNegative(Rejection.VALUE, "attempts", d.attempts());
            case LimiterState l -> name("limiter policy", l.policy());
            case LimitsChanged c -> {
                notNegative(Rejection.VALUE, "version", c.version());
                notNegative(Rejection.VALUE, "maxRequestsPerSecond", c.maxRequestsPerSecond());
                notNegative(Rejection.VALUE, "maxInFlight", c.maxInFlight());
            }
            case PauseChanged c -> notNegative(Rejection.VALUE, "atMs", c.atMs());
            case OperatorAction a -> notNegative(Rejection.VALUE, "atMs", a.atMs());
        }
    }

    private static void interval(String what, long ms) {
        if (ms != 0 && (ms < MIN_HEARTBEAT_INTERVAL.toMillis() || ms > MAX_HEARTBEAT_INTERVAL.toMillis())) {
            throw refused(Rejection.HEARTBEAT_INTERVAL, what + " must be 0 (not announced) or between "
                    + MIN_HEARTBEAT_INTERVAL.toMillis() + " and " + MAX_HEARTBEAT_INTERVAL.toMillis()
                    + " ms, but was " + ms);
        }
    }

    private static void counters(Counters c) {
        if (c == null) {
            return;
        }
        notNegative(Rejection.COUNTERS, "jobsDone", c.jobsDone());
        notNegative(Rejection.COUNTERS, "jobsDeadLettered", c.jobsDeadLettered());
        notNegative(Rejection.COUNTERS, "hubRequests", c.hubRequests());
        notNegative(Rejection.COUNTERS, "hubTimeouts", c.hubTimeouts());
        notNegative(Rejection.COUNTERS, "hubRateLimited", c.hubRateLimited());
        notNegative(Rejection.COUNTERS, "hubErrors", c.hubErrors());
        notNegative(Rejection.COUNTERS, "redisOperations", c.redisOperations());
        notNegative(Rejection.COUNTERS, "redisErrors", c.redisErrors());
        notNegative(Rejection.COUNTERS, "connectionTimeouts", c.connectionTimeouts());
        notNegative(Rejection.COUNTERS, "eventsDropped", c.eventsDropped());
        if (c.jobsFailedByKind() != null) {
            entries("jobsFailedByKind", c.jobsFailedByKind());
            c.jobsFailedByKind().forEach((kind, count) -> {
                name("error kind", kind);
                if (count != null) {
                    notNegative(Rejection.COUNTERS, "jobsFailedByKind", count);
                }
            });
        }
    }

    private static void pool(PoolSample p) {
        if (p == null) {
            return;
        }
        if (p.max() < 1 || p.active() < 0 || p.active() > p.max() || p.idle() < 0 || p.waiters() < 0) {
            throw refused(Rejection.POOL_SAMPLE, "pool max must be at least 1, active 0 to max, idle and waiters not "
                    + "negative, but were max " + p.max() + ", active " + p.active() + ", idle " + p.idle()
                    + ", waiters " + p.waiters());
        }
        if (!(p.availability() >= 0 && p.availability() <= 1)) {
            throw refused(Rejection.POOL_SAMPLE, "pool availability must be between 0 and 1, but was "
                    + p.availability());
        }
        if (!(p.meanBorrowWaitMs() >= 0 && p.meanBorrowWaitMs() <= MAX_BORROW_WAIT_MS)) {
            throw refused(Rejection.POOL_SAMPLE, "pool meanBorrowWaitMs must be between 0 and " + (long) MAX_BORROW_WAIT_MS
                    + ", but was " + p.meanBorrowWaitMs());
        }
    }

    private static void queue(QueueSample q) {
        if (q == null) {
            return;
        }
        notNegative(Rejection.QUEUE_SAMPLE, "queue waiting", q.waiting());
        notNegative(Rejection.QUEUE_SAMPLE, "queue pending", q.pending());
        notNegative(Rejection.QUEUE_SAMPLE, "queue delayed", q.delayed());
        notNegative(Rejection.QUEUE_SAMPLE, "queue dead", q.dead());
        if (q.oldestWaitingAgeMs() < -1 || q.oldestWaitingAgeMs() > MAX_AGE_MS) {
            throw refused(Rejection.QUEUE_SAMPLE, "queue oldestWaitingAgeMs must be -1 (not known) to " + MAX_AGE_MS
                    + ", but was " + q.oldestWaitingAgeMs());
        }
    }

    private static void entries(String what, Map<String, ?> map) {
        if (map.size() > MAX_ENTRIES) {
            throw refused(Rejection.NAME, what + " must have at most " + MAX_ENTRIES + " entries, but had " + map.size());
        }
    }

    /** A name may be absent; when present it is short and printable. */
    private static void name(String what, String name) {
        if (name == null) {
            return;
        }
        if (name.length() > MAX_NAME || name.chars().anyMatch(Character::isISOControl)) {
            throw refused(Rejection.NAME, what + " must be at most " + MAX_NAME
                    + " characters without control characters, but was " + shown(name));
        }
    }

    private static void notNegative(String reason, String what, long value) {
        if (value < 0) {
            throw refused(reason, what + " must not be negative, but was " + value);
        }
    }

    private static Refused refused(String reason, String detail) {
        return new Refused(new Rejection(reason, detail));
    }

    /** Ends a check at the first value out of bounds; carries no stack trace. */
    private static final class Refused extends RuntimeException {
        @Serial
        private static final long serialVersionUID = 1L;
        private final transient Rejection rejection;

        Refused(Rejection rejection) {
            super(rejection.detail(), null, false, false);
            this.rejection = rejection;
        }
    }
}
