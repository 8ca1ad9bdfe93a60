package dev.sluice.worker.limits.fleet;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.TreeMap;

/**
 * The fleet limiter as {@code /api/status} shows it.
 *
 * @param maxInFlight      hub.max_concurrent_connections, fleet-wide
 * @param maxPerSecond     hub.max_requests_per_second, fleet-wide
 * @param heldHere         permits this node's requests hold now
 * @param degraded         why cluster.on_store_failure applies now, or null
 * @param onStoreFailure   the policy
 * @param fallbacks        acquires the policy decided so far
 * @param lateTokens       rate tokens left unused because their holder would have sent too late
 * @param releaseFailures  releases that did not reach the store (their leases ended those permits)
 * @param fleetLeases      the permit table's leases by holder node: how many, and when the last ends (epoch ms,
 *                         the table owner's clock); null when the table could not be read
 * @param fleetWaiting     waiters queued in the table, or -1 when it could not be read
 * @param pausedUntil      the fleet-wide 429 pause end (epoch ms), 0 when none, or -1 when unread
 * @param grantor          the grantor lease as last read
 * @param mayGrant         "yes" when this node may take new capacity now, else why not
 * @param fencedSends      requests held back before their first byte because this side may no longer send
 * @param storeCalls       calls to the store since start (permit table and rate bucket)
 * @param tableCalls       of those, calls to the permit table
 * @param permitsKept      permits this node holds now, in use or kept for its next requests
 * @param expiredTokens    rate tokens reserved ahead that expired unused, since start
 * @param limitsVersion    the version of the fleet's live limits followed, 0 when none (the configuration's)
 * @param staleReservations rate reservations that took one token because this node's view of the limits was
 *                         more than a second old, since start
 */
public record LimiterSnapshot(int maxInFlight, int maxPerSecond, int heldHere, String degraded, String onStoreFailure,
                              long fallbacks, long lateTokens, long releaseFailures, Map<String, Leases> fleetLeases,
                              int fleetWaiting, long pausedUntil, String grantor, String mayGrant, long fencedSends,
                              long storeCalls, long tableCalls, int permitsKept, long expiredTokens,
                              long limitsVersion, long staleReservations) {
    private static final Logger log = LoggerFactory.getLogger(LimiterSnapshot.class);

    /** A holder's leases in the permit table. */
    public record Leases(int count, long lastEndsAt) {
    }

    /** The permit table as read for the status: leases by holder, waiters, the pause end; unread: null, -1, -1. */
    record Table(Map<String, Leases> byHolder, int waiting, long pausedUntil) {
        static final Table UNREAD = new Table(null, -1, -1);

        /** Reads the table from its owner (one store call); {@link #UNREAD} when that fails. */
        static Table read(FleetStore store) {
            try {
                PermitTable table = store.inspect();
                Map<String, Leases> byHolder = new TreeMap<>();
                for (PermitTable.Lease lease : table.leases()) {
                    byHolder.merge(lease.holder(), new Leases(1, lease.endMs()),
                            (a, b) -> new Leases(a.count() + b.count(), Math.max(a.lastEndsAt(), b.lastEndsAt())));
                }
                return new Table(byHolder, table.tickets().size(), table.pausedUntilMs());
            } catch (StoreFailure e) {
                log.debug("the permit table could not be read for the status: {}", e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return UNREAD;
        }
    }
}
