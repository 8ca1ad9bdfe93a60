package dev.sluice.worker.limits.fleet;

import dev.sluice.worker.limits.HubLimiter.Permit;
import io.github.bucket4j.BlockingStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One fleet permit, the holder-side enforcement: {@link #takeToken} gives it its rate token before it is handed out
 * (and again if needed), and {@link #onTime} decides, right before the request's first byte, whether it may leave:
 * only while this node's side may send ({@link Fencing}) and no later than its token allows.
 */
final class FleetPermit implements Permit {
    private static final Logger log = LoggerFactory.getLogger(FleetPermit.class);

    private final FleetHubLimiter limiter;
    private final FleetStore store;
    private final Fencing fencing;
    private final PermitShare share;
    private final TokenBuffer ahead;
    private final HeldPermit held;
    private final String id;
    private final AtomicBoolean done = new AtomicBoolean();
    /** The latest nanoTime at which the request may leave on its token. */
    private volatile long sendBy;

    FleetPermit(FleetHubLimiter limiter, FleetStore store, Fencing fencing, PermitShare share, TokenBuffer ahead,
                HeldPermit held) {
        this.limiter = limiter;
        this.store = store;
        this.fencing = fencing;
        this.share = share;
        this.ahead = ahead;
        this.held = held;
        this.id = held.id;
    }

    /**
     * Takes a rate token and waits for its time; then the request may leave until {@link #sendBy}: the token's
     * earliest possible time plus the send budget. False when no token came before the deadline or the permit
     * was lost meanwhile.
     */
    boolean takeToken(long deadline) throws StoreFailure, InterruptedException {
        long sendBudgetNanos = limiter.sendBudgetNanos();
        long leaseMs = limiter.settings().lease().toMillis();
        while (true) {
            if (deadline - System.nanoTime() <= 0) {
                return false;
            }
            if (!fencing.awaitGrantRight(deadline)) {
                return false;
            }
            // A token reserved ahead of this node's requests, if one is still usable; else one from the bucket.
            FleetStore.TokenTime slot = ahead.take(System.nanoTime(), sendBudgetNanos, deadline);
            if (slot == null) {
                slot = store.answer(store.token(deadline));
                if (slot == FleetStore.TokenTime.NONE_IN_TIME) {
                    return false;
                }
                if (slot == FleetStore.TokenTime.RETRY) {
                    continue;
                }
                // The right was checked before the call; a split noticed while it ran (the call then completes on
                // this side's copy of the bucket alone) leaves the token unused.
                fencing.stillMayGrant();
                ahead.tookFromBucket();
            }
            // The owner computed the token's time somewhere between asking and answering: sending at
            // answeredAt + wait is never early, and anything after askedAt + wait may be late.
            long earliestSlot = slot.askedAt() + slot.waitNanos();
            long latestSlot = slot.answeredAt() + slot.waitNanos();
            // A request leaving within half the grace after its lease began is covered by that lease (request
            // timeout plus grace). Otherwise the lease starts again from the token's time: asked now, answered
            // while the holder waits anyway.
            CompletableFuture<long[]> renewal = null;
            long renewalAsked = System.nanoTime();
            if (latestSlot + sendBudgetNanos - held.leaseFrom() > limiter.settings().grace().toNanos() / 2) {
                renewal = store.step(PermitProcessor.Op.RENEW, id,
                        leaseMs + TimeUnit.NANOSECONDS.toMillis(slot.waitNanos()));
            }
            long toSlot = latestSlot - System.nanoTime();
            if (toSlot > 0) {
                BlockingStrategy.PARKING.park(toSlot);
            }
            if (renewal != null) {
                PermitTable.Reply renewed = PermitTable.Reply.fromWire(store.answer(renewal));
                if (renewed.state() == PermitTable.State.LOST) {
                    held.lose();
                    log.warn("permit {} ended while its holder waited for a rate token; giving the token up", id);
                    return false;
                }
                held.renewedFrom(renewalAsked + slot.waitNanos());
                if (renewed.pauseMs() > 0) {
                    LocalPause.sleepOut(TimeUnit.MILLISECONDS.toNanos(renewed.pauseMs()), deadline);
                    continue; // the token goes unused
                }
            } else {
                limiter.skippedRenewal();
            }
            long pause = limiter.localPause().toNanos();
            if (pause > 0) {
                LocalPause.sleepOut(pause, deadline);
                continue; // a 429 elsewhere paused the fleet while this holder waited
            }
            // A request leaving much later than its token's time could crowd a later second: the token goes
            // unused instead.
            long late = System.nanoTime() - earliestSlot;
            if (late <= sendBudgetNanos) {
                sendBy = earliestSlot + sendBudgetNanos;
                return true;
            }
            limiter.lateToken();
            log.debug("rate token for permit {} came {} ms late; not using it", id, TimeUnit.NANOSECONDS.toMillis(late));
        }
    }

    @Override
    public boolean onTime() {
        if (!fencing.maySendNow()) {
            return false;
        }
        if (System.nanoTime() - sendBy <= 0) {
            return true;
        }
        limiter.lateToken();
        return false;
    }

    @Override
    public boolean renewToken(Duration maxWait) throws InterruptedException {
        try {
            return takeToken(System.nanoTime() + maxWait.toNanos());
        } catch (StoreFailure e) {
            limiter.degrade(e.getMessage());
            return false;
        }
    }

    /** The request ended: the permit is kept for this node's next request, or given back (see {@link PermitShare}). */
    @Override
    public void close() {
        if (done.compareAndSet(false, true)) {
            limiter.handedBack();
            share.giveBack(held);
        }
    }

    @Override
    public void keepUntilLeaseEnd() {
        if (done.compareAndSet(false, true)) {
            limiter.handedBack();
            share.leaveToLease(held);
        }
    }
}
