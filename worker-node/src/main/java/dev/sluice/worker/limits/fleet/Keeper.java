package dev.sluice.worker.limits.fleet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * The fleet limiter's keeper round: this node's permit share renewed (every {@code renewEveryNanos}) and fitted to
 * demand, and the rate of token use sampled for the tokens reserved ahead.
 */
final class Keeper implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(Keeper.class);

    private final TokenBuffer ahead;
    private final PermitShare share;
    private final long renewEveryNanos;
    private final LongSupplier nanoTime;
    private final BooleanSupplier closed;
    private long lastRenewal;

    Keeper(TokenBuffer ahead, PermitShare share, long renewEveryNanos, LongSupplier nanoTime, BooleanSupplier closed) {
        this.ahead = ahead;
        this.share = share;
        this.renewEveryNanos = renewEveryNanos;
        this.nanoTime = nanoTime;
        this.closed = closed;
        this.lastRenewal = nanoTime.getAsLong() - renewEveryNanos;
    }

    @Override
    public void run() {
        if (closed.getAsBoolean()) {
            return;
        }
        try {
            long now = nanoTime.getAsLong();
            ahead.sample(now);
            boolean renew = now - lastRenewal >= renewEveryNanos;
            share.keep(renew);
            if (renew) {
                lastRenewal = now;
            }
        } catch (StoreFailure e) {
            log.debug("renewing this node's permits failed: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.warn("the fleet limiter's keeper failed", e);
        }
    }
}
