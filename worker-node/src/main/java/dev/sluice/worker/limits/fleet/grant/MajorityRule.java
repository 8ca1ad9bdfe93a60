package dev.sluice.worker.limits.fleet.grant;

import dev.sluice.worker.cluster.ClusterMember;

/**
 * The rule for a limiter store used without Redis (the store's own tests): grants need a strict majority of the
 * last known fleet, so a fleet of two stops when either member vanishes. Worker nodes use {@link GrantorLease}.
 */
public record MajorityRule(ClusterMember member) implements GrantRight {

    @Override
    public boolean mayGrant(long nowNanos) {
        return member.hasMajority();
    }

    @Override
    public boolean maySend(long nowNanos) {
        return true;
    }

    @Override
    public String describe() {
        return "majority of the last known fleet (no grantor lease)";
    }

    @Override
    public String whyNot(long nowNanos) {
        return member.hasMajority() ? "" : "no majority: this member sees " + member.memberCount()
                + " of the last known " + member.lastKnownSize() + " members";
    }
}
