package dev.sluice.worker.limits.fleet;

import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.limits.HubLimiter.Permit;
import dev.sluice.worker.limits.LimiterListener;
import dev.sluice.worker.limits.LocalHubLimiter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * What the limiter does while it may not use the store ({@code cluster.on_store_failure}): the degraded episodes,
 * their reasons, the acquires the policy decided, and the {@link LimiterListener}s told of each change (the node
 * pauses fetching, the coordinator alerts). Waits that end by themselves are told apart: they pause fetching and
 * degrade nothing.
 */
final class FailurePolicy {
    private static final Logger log = LoggerFactory.getLogger(FailurePolicy.class);
    private static final Permit OPEN = () -> { };

    /** The degraded state of one episode. */
    record Degraded(String reason, LocalHubLimiter localShare) {
    }

    private final java.util.function.Supplier<FleetSettings> settings;
    private final IntSupplier lastKnownFleet;
    private final List<LimiterListener> listeners = new CopyOnWriteArrayList<>();
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder degradations = new LongAdder();
    private volatile Degraded degraded;
    private boolean waitingReported;
    private boolean closed;

    /** @param lastKnownFleet the fleet's last known size, for {@code local-share} */
    /** @param settings the limiter's settings now (the limits change live) */
    FailurePolicy(java.util.function.Supplier<FleetSettings> settings, IntSupplier lastKnownFleet) {
        this.settings = settings;
        this.lastKnownFleet = lastKnownFleet;
    }

    void addListener(LimiterListener listener) {
        listeners.add(listener);
    }

    /** The current episode, or null while the store may be used. */
    Degraded current() {
        return degraded;
    }

    /** Decides an acquire during episode {@code d}: a permit, or null (fail-closed waits for the episode to end). */
    Permit fallback(Degraded d, long deadline) throws InterruptedException {
        switch (settings.get().onStoreFailure()) {
            case FAIL_OPEN -> {
                fallbacks.increment();
                return OPEN;
            }
            case LOCAL_SHARE -> {
                fallbacks.increment();
                return d.localShare().acquire(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            }
            default -> {
                while (degraded == d && System.nanoTime() < deadline) {
                    TimeUnit.NANOSECONDS.sleep(Math.min(TimeUnit.MILLISECONDS.toNanos(50), deadline - System.nanoTime()));
                }
                if (degraded == d) {
                    fallbacks.increment();
                }
                return null;
            }
        }
    }

    /** A 429 during an episode also pauses the local share. */
    void pauseFor(Duration retryAfter) {
        Degraded d = degraded;
        if (d != null && d.localShare() != null) {
            d.localShare().pauseFor(retryAfter);
        }
    }

    /** Starts an episode for {@code reason}, unless one runs. */
    void degrade(String reason) {
        synchronized (this) {
            if (degraded != null || closed) {
                return;
            }
            LocalHubLimiter localShare = null;
            if (settings.get().onStoreFailure() == StoreFailurePolicy.LOCAL_SHARE) {
                int fleet = lastKnownFleet.getAsInt();
                FleetSettings now = settings.get();
                localShare = new LocalHubLimiter(Math.max(1, now.maxInFlight() / fleet),
                        Math.max(1, now.maxPerSecond() / fleet));
            }
            degraded = new Degraded(reason, localShare);
            degradations.increment();
        }
        log.warn("fleet Hub limits degraded: {}; applying cluster.on_store_failure = {}", reason, settings.get().onStoreFailure().id());
        tell(l -> l.degraded(reason));
    }

    /**
     * An untrusted store outranks whatever degraded the limiter first (a quiet time, a lease not yet seen): the reason
     * reported becomes it, so status and readiness name the member to remove.
     */
    void retitle(String reason) {
        Degraded d;
        synchronized (this) {
            d = degraded;
            if (d == null || d.reason().equals(reason) || closed) {
                return;
            }
            degraded = new Degraded(reason, d.localShare());
        }
        log.warn("fleet Hub limits still degraded, now because: {}", reason);
    }

    /** Ends the episode. */
    void recover() {
        synchronized (this) {
            if (degraded == null) {
                return;
            }
            degraded = null;
        }
        log.info("fleet Hub limits recovered: the store answers under a majority again");
        tell(LimiterListener::recovered);
    }

    /** Tells the listeners when a wait that ends by itself begins or ends (not an episode). */
    void tellWaiting(boolean now, String reason) {
        if (now == waitingReported) {
            return;
        }
        waitingReported = now;
        if (now) {
            log.info("fleet Hub limits: no new grants for a while: {}", reason);
        } else {
            log.info("fleet Hub limits: grants again");
        }
        tell(l -> l.waiting(now, reason));
    }

    private void tell(java.util.function.Consumer<LimiterListener> message) {
        for (LimiterListener l : listeners) {
            try {
                message.accept(l);
            } catch (RuntimeException e) {
                log.warn("a limiter listener failed", e);
            }
        }
    }

    boolean degraded() {
        return degraded != null;
    }

    String reason() {
        Degraded d = degraded;
        return d == null ? null : d.reason();
    }

    long fallbacks() {
        return fallbacks.sum();
    }

    long degradations() {
        return degradations.sum();
    }

    synchronized void close() {
        closed = true;
    }
}
