package dev.sluice.worker.limits.fleet;

import dev.sluice.common.config.ClusterConfig;
import dev.sluice.common.config.HubConfig;
import dev.sluice.common.config.StoreFailurePolicy;

import java.time.Duration;

/**
 * The fleet limiter's settings: the Hub's limits in force and how the limiter talks to its store.
 *
 * @param maxInFlight    hub.max_concurrent_connections
 * @param maxPerSecond   hub.max_requests_per_second
 * @param lease          hub.request_timeout_ms + hub.permit_grace_ms
 * @param grace          hub.permit_grace_ms: a permit's request leaving within half of it after the grant needs no
 *                       renewal of the lease
 * @param onStoreFailure cluster.on_store_failure
 * @param poll           longest a waiter goes without asking the table again
 * @param ticketTtl      how long a ticket stays queued without its waiter asking
 * @param storeTimeout   a store call slower than this counts as a store failure
 * @param probeEvery     how often the majority is checked and, while degraded, the store probed
 */
public record FleetSettings(int maxInFlight, int maxPerSecond, Duration lease, Duration grace, StoreFailurePolicy onStoreFailure,
                       Duration poll, Duration ticketTtl, Duration storeTimeout, Duration probeEvery) {
    public FleetSettings {
        if (grace.isNegative() || grace.compareTo(lease) > 0) {
            throw new IllegalArgumentException("grace must be between 0 and the lease (" + lease + "), but was " + grace);
        }
        if (storeTimeout.compareTo(Duration.ofMillis(5_000)) >= 0) {
            throw new IllegalArgumentException("storeTimeout must be below Hazelcast's backup timeout (5 s), so that "
                    + "a member cut off from its backups times out before it sends, but was " + storeTimeout);
        }
        if (ticketTtl.compareTo(poll.multipliedBy(3)) < 0) {
            throw new IllegalArgumentException("ticketTtl must be at least 3 polls (" + poll.multipliedBy(3)
                    + "), but was " + ticketTtl);
        }
    }

    public static FleetSettings of(HubConfig hub, ClusterConfig cluster) {
        return new FleetSettings(hub.maxConcurrentConnections(), hub.maxRequestsPerSecond(),
                Duration.ofMillis(hub.permitLeaseMs()), Duration.ofMillis(hub.permitGraceMs()), cluster.onStoreFailure(),
                Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(500));
    }

    /** These settings with the fleet's limits {@code maxInFlight} and {@code maxPerSecond}. */
    public FleetSettings withLimits(int maxInFlight, int maxPerSecond) {
        return new FleetSettings(maxInFlight, maxPerSecond, lease, grace, onStoreFailure, poll, ticketTtl, storeTimeout,
                probeEvery);
    }

    public FleetSettings withOnStoreFailure(StoreFailurePolicy policy) {
        return new FleetSettings(maxInFlight, maxPerSecond, lease, grace, policy, poll, ticketTtl, storeTimeout, probeEvery);
    }
}
