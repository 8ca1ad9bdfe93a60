package dev.sluice.worker.limits.fleet;

import dev.sluice.worker.cluster.ClusterMember;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.BooleanSupplier;

/**
 * The fleet limiter's watch over its store, and the trust it puts in it: a distrusted store (a member that is not a
 * registered Sluice node) or one without a majority or answer degrades the limiter; a degraded one recovers once
 * the store answers again under a majority.
 */
final class StoreWatch implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(StoreWatch.class);

    private final ClusterMember member;
    private final Fencing fencing;
    private final FailurePolicy policy;
    private final FleetStore store;
    private final BooleanSupplier closed;
    private volatile String distrust;
    private String reportedMismatch;

    StoreWatch(ClusterMember member, Fencing fencing, FailurePolicy policy, FleetStore store, BooleanSupplier closed) {
        this.member = member;
        this.fencing = fencing;
        this.policy = policy;
        this.store = store;
        this.closed = closed;
    }

    /** Treats the store as untrusted, for {@code reason}, until {@link #trust()}. */
    void distrust(String reason) {
        distrust = reason;
        degrade(reason);
    }

    void trust() {
        distrust = null;
    }

    void degrade(String reason) {
        if (!closed.getAsBoolean()) {
            policy.degrade(reason);
        }
    }

    /**
     * Every {@code probe_every}: an untrusted store (a distrusted member, another limiter protocol) degrades the
     * limiter and becomes its reason; a grant right missing for a reason that does not end by itself degrades it; a
     * wait that ends by itself is told to the listeners; a degraded limiter whose reason is gone recovers once the
     * store answers.
     */
    @Override
    public void run() {
        if (closed.getAsBoolean()) {
            return;
        }
        try {
            String untrusted = distrust;
            if (untrusted == null) {
                untrusted = Fencing.protocolMismatch(member);
                if (untrusted != null && !untrusted.equals(reportedMismatch)) {
                    log.error("{}", untrusted);
                }
                reportedMismatch = untrusted;
            }
            if (untrusted != null) {
                degrade(untrusted);
                policy.retitle(untrusted);
                return;
            }
            String why = fencing.whyNot();
            boolean waiting = !why.isEmpty() && fencing.waiting();
            policy.tellWaiting(waiting, why);
            boolean failing = !why.isEmpty() && !waiting;
            if (!policy.degraded()) {
                if (failing) {
                    degrade(why);
                }
                return;
            }
            if (!failing) {
                store.probe();
                policy.recover();
            }
        } catch (StoreFailure e) {
            log.debug("fleet limiter store still failing: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.warn("fleet limiter watch failed", e);
        }
    }
}
