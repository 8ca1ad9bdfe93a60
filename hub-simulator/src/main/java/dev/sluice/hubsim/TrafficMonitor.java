package dev.sluice.hubsim;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * Decides whether each Hub request is within the limits and records what the Hub observed.
 *
 * <p>Design note. Every arrival is timestamped under one lock, so the timestamps are in order. The arrival log
 * holds the arrivals of the last second: on each arrival those at least one second old are dropped, and the count
 * that remains, this arrival included, is the number of requests in the window {@code (now - 1 s, now]}. The
 * largest window count over all time is always reached by a window that ends at an arrival, so taking the maximum
 * at arrivals is exact, not sampled.
 *
 * <p>Two questions get two different answers, on purpose:
 * <ul>
 *   <li>Enforcement (whether to answer 429) counts <em>accepted</em> requests in flight, so a flood of refused
 *       requests does not lock out compliant ones, and <em>all</em> arrivals (accepted and refused) in the window,
 *       as a sliding-window limiter that counts attempts does; a client that keeps hammering stays refused.
 *       Enforcement ignores observation periods: resetting the stats never lets a burst through.</li>
 *   <li>Observation (the stats) counts every arrival of the current period, accepted or refused, in both maxima,
 *       so a client cannot look compliant because the Hub refused its excess.</li>
 * </ul>
 * A request is in flight from its arrival until the Hub is about to write the last piece of its answer (or the
 * client hung up mid-body), so a client that has its answer in hand never sees its request still counted, and a
 * body that takes long to go out keeps its request counted meanwhile.
 *
 * <p>{@link #reset()} starts a new observation period: the stats then describe only requests that arrived after
 * it. Arrivals of the previous period still count for enforcement while they are in the window or in flight.
 */
final class TrafficMonitor {
    static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * The verdict on one arrival, handed back to {@link #complete} when the request is answered.
     *
     * @param period       the observation period the request arrived in
     * @param accepted     false when the request must be answered 429
     * @param overWindow   the arrival broke the requests-per-second limit
     * @param overInFlight the arrival broke the in-flight limit
     */
    record Admission(long period, boolean accepted, boolean overWindow, boolean overInFlight, long arrivedAt) {
    }

    /** Most answered requests the log keeps (the first ones; later ones are counted as dropped). */
    static final int LOG_CAPACITY = 1_000_000;


    private final HubStats.Limits limits;
    private final LongSupplier nanoTime;
    private final ReentrantLock lock = new ReentrantLock();

    // Enforcement state, across periods. Guarded by lock.
    private final ArrayDeque<Long> arrivals = new ArrayDeque<>();
    private int acceptedInFlight;

    // Observation state of the current period. Guarded by lock.
    private long period;
    private int arrivalsOfEarlierPeriods;
    private int inFlight;
    private int maxInFlight;
    private int maxWindow;
    private long answered;
    private final Map<Integer, Long> byStatus = new HashMap<>();
    private long violations;
    private long windowViolations;
    private long inFlightViolations;
    private final Set<String> servedKeys = new HashSet<>();
    private long periodStart;
    // The request log, across periods. Guarded by lock.
    private long[] log = new long[0];
    private int[] logStatus = new int[0];
    private int logged;

    /**
     * @param limits   the limits to enforce and judge violations by
     * @param nanoTime a monotonic time source in nanoseconds, {@code System::nanoTime} outside tests
     */
    TrafficMonitor(HubStats.Limits limits, LongSupplier nanoTime) {
        this.limits = limits;
        this.nanoTime = nanoTime;
        this.periodStart = nanoTime.getAsLong();
    }

    HubStats.Limits limits() {
        return limits;
    }

    /** Records an arrival and decides whether it is accepted. Every call must be followed by {@link #complete}. */
    Admission admit() {
        lock.lock();
        try {
            var now = nanoTime.getAsLong();
            while (!arrivals.isEmpty() && now - arrivals.peekFirst() >= WINDOW_NANOS) {
                arrivals.removeFirst();
                if (arrivalsOfEarlierPeriods > 0) {
                    arrivalsOfEarlierPeriods--;
                }
            }
            arrivals.addLast(now);
            var window = arrivals.size();

            maxWindow = Math.max(maxWindow, window - arrivalsOfEarlierPeriods);
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);

            var overWindow = limits.maxRequestsPerSecond() > 0 && window > limits.maxRequestsPerSecond();
            var overInFlight = limits.maxInFlight() > 0 && acceptedInFlight >= limits.maxInFlight();
            if (overWindow || overInFlight) {
                violations++;
                windowViolations += overWindow ? 1 : 0;
                inFlightViolations += overInFlight ? 1 : 0;
            }
            var accepted = !(limits.enforced() && (overWindow || overInFlight));
            if (accepted) {
                acceptedInFlight++;
            }
            return new Admission(period, accepted, overWindow, overInFlight, now);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records the answer to an admitted request; call it before the last piece of the answer is written.
     *
     * @param admission what {@link #admit()} returned for this request
     * @param status    the HTTP status of the answer
     * @param servedKey the key answered with 200, or null
     */
    void complete(Admission admission, int status, String servedKey) {
        lock.lock();
        try {
            if (admission.accepted()) {
                acceptedInFlight--;
            }
            if (logged < LOG_CAPACITY) {
                if (2 * logged == log.length) {
                    int size = Math.min(LOG_CAPACITY, Math.max(1024, 2 * logged));
                    log = java.util.Arrays.copyOf(log, 2 * size);
                    logStatus = java.util.Arrays.copyOf(logStatus, size);
                }
                log[2 * logged] = admission.arrivedAt();
                log[2 * logged + 1] = nanoTime.getAsLong();
                logStatus[logged] = status;
                logged++;
            }
            if (admission.period() == period) {
                inFlight--;
                answered++;
                byStatus.merge(status, 1L, Long::sum);
                if (status == 200 && servedKey != null) {
                    servedKeys.add(servedKey);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Starts a new observation period; enforcement is not affected. */
    void reset() {
        lock.lock();
        try {
            period++;
            periodStart = nanoTime.getAsLong();
            arrivalsOfEarlierPeriods = arrivals.size();
            inFlight = 0;
            maxInFlight = 0;
            maxWindow = 0;
            answered = 0;
            byStatus.clear();
            violations = 0;
            windowViolations = 0;
            inFlightViolations = 0;
            servedKeys.clear();
        } finally {
            lock.unlock();
        }
    }

    /** The answered requests so far, in the order they were answered (at most {@link #LOG_CAPACITY}). */
    java.util.List<Served> served() {
        lock.lock();
        try {
            java.util.List<Served> out = new java.util.ArrayList<>(logged);
            for (int i = 0; i < logged; i++) {
                out.add(new Served(log[2 * i], log[2 * i + 1], logStatus[i]));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    HubStats snapshot() {
        lock.lock();
        try {
            return new HubStats(answered, byStatus, inFlight, maxInFlight, maxWindow,
                    new HubStats.Violations(violations, windowViolations, inFlightViolations), limits,
                    servedKeys.size(), (nanoTime.getAsLong() - periodStart) / 1e9);
        } finally {
            lock.unlock();
        }
    }
}
