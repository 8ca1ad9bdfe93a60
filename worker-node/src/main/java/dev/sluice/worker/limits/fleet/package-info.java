/**
 * The fleet-wide limiter ({@link dev.sluice.worker.limits.fleet.FleetHubLimiter}): a permit table and a Bucket4j rate
 * bucket in Hazelcast, shares and timed tokens, and the store-failure policy. The Hub's limits hold for the whole
 * fleet: at most {@code hub.max_concurrent_connections} requests in flight and at most
 * {@code hub.max_requests_per_second} in any sliding second, whatever the number of nodes.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>One clock.</b> Both structures are timed by the wall clock of the member that owns their map entry:
 *       entry processors run there, and Bucket4j is given no client clock, so it too reads the owner's clock. Node
 *       clocks never enter a decision. When the owner changes (it died, partitions migrated) the new owner's clock
 *       takes over; NTP-synchronized hosts differ by milliseconds, well inside the lease grace.</li>
 *   <li><b>Concurrency</b> is a {@link PermitTable} in the map {@value FleetStore#PERMITS_MAP}, changed only by
 *       {@link PermitProcessor}s. A permit is a lease of {@code hub.request_timeout_ms + hub.permit_grace_ms}; it
 *       ends on release or at its end, never earlier, even when its holder died or is cut off, since its request
 *       may still run at the Hub. Waiters take FIFO tickets, so no node starves: free permits go to the oldest
 *       tickets, and a releaser wakes the waiters whose turn came (topic {@value FleetStore#WAKE_TOPIC}); others re-ask at
 *       least every {@code poll} and when the next lease ends. Each node lets at most {@code max_in_flight} of its
 *       threads hold or wait for permits (a local fair gate), so the table stays small.</li>
 *   <li><b>Combined store calls.</b> Each node sends the table and bucket requests of all its waiting threads as
 *       one call at a time ({@link Combiner}): the permit table's operations as one batch applied in order, the
 *       tokens as one reservation of {@code k} tokens whose individual times follow from the greedy refill. A hot
 *       entry thus sees a few calls per round trip per node, not one per waiting thread, and round trips stay short
 *       at high limits (one entry per structure caps what the fleet can do: see docs/benchmarks.md).</li>
 *   <li><b>Rate</b> is a Bucket4j bucket in {@value FleetStore#RATE_MAP} (one per configured limit) shaped by {@link RateShape} so the Hub-side bound
 *       holds in any sliding second. Tokens are reserved (Bucket4j's blocking consume), so waiters are served in
 *       order with one store call each. The owner computes a token's time somewhere between the holder's question
 *       and its answer, so the holder waits until the answer's time plus the announced wait (never early); if
 *       by then more than half the shape's lateness tolerance has passed since the question's time
 *       plus the wait (a stalled thread, a slow store answer), it leaves the token unused and takes another.
 *       The Hub client asks once more ({@link dev.sluice.worker.limits.HubLimiter.Permit#onTime()}) at the last moment, after its connection is made
 *       and before the request's first byte: a request that would leave later (a cold node's first connection, a
 *       stalled thread) is held back and takes a new token ({@link dev.sluice.worker.limits.HubLimiter.Permit#renewToken}). Requests thus leave within
 *       that budget after their tokens' times, and the bound holds at the Hub, not only in the bucket.</li>
 *   <li><b>Order of a grant:</b> permit; then a token reserved; then, while the holder waits for the token's
 *       time, the permit's lease is started again from that time and the pause is checked (one store call), unless
 *       the request leaves within half of {@code hub.permit_grace_ms} after the grant was asked, when the lease it
 *       has (request timeout plus grace) covers it and a pause is known from the topic; then the request goes out.
 *       The token is the last thing taken, so the request leaves at its token's time.</li>
 *   <li><b>429.</b> {@link FleetHubLimiter#pauseFor} sets a pause end in the permit table (owner's clock) and tells every member
 *       (topic {@value FleetStore#PAUSE_TOPIC}); no permit is granted before it, and a holder whose token falls in a pause
 *       gives the token up and waits. Pauses and wake-ups are control messages ({@link dev.sluice.worker.cluster.ControlTopic}), sealed under
 *       {@code cluster.secret}: a member that is not a Sluice node with the secret cannot pause the fleet that way.
 *       </li>
 *   <li><b>Store failures.</b> The maps are guarded by Hazelcast split-brain protection
 *       ({@link dev.sluice.worker.cluster.ClusterMember#MAJORITY}: a majority of the last known fleet). Without a majority, or when a store
 *       call fails or does not answer within {@code store_timeout}, the limiter is <em>degraded</em> and applies
 *       {@code cluster.on_store_failure}: {@code fail-closed} (default) grants nothing until the store is back;
 *       {@code local-share} enforces {@code floor(limit / last known fleet size)} (at least 1) of each limit on
 *       this node alone, which lets a split fleet exceed the Hub's limits by the minority's share (and by the
 *       requests still running when the store comes back); {@code fail-open} grants everything. Each episode is
 *       reported to {@link dev.sluice.worker.limits.LimiterListener}s and every acquire the policy decided is counted. A watcher checks the
 *       majority and probes the store every {@code probe_every} to notice both the fault and the recovery.</li>
 * </ul>
 *
 * <p><b>Before a split is noticed.</b> For the seconds until both sides have removed each other (member timeout),
 * the majority cannot reach entries owned across the split, and the side that owns an entry still counts the
 * others as present. Every change waits for its two synchronous backups, at least one of which is across the
 * split for fleets of up to six members; Hazelcast waits up to {@code hazelcast.operation.backup.timeout.millis}
 * (5 s) for them, longer than {@code store_timeout} (2 s), so the owner's side times out, degrades and sends
 * nothing, even though its entry processor ran. {@code FleetPartitionTest} cuts a node process off with iptables
 * in its own network namespace: it makes no Hub call from the cut on, and the Hub sees no violation.
 *
 * <p><b>Where each job lives.</b> {@link FleetHubLimiter} only wires and decides acquires; the store port is
 * {@link FleetStore} (the permit table, the bucket, the control topics), who may grant and send is {@link Fencing}
 * (with the grantor lease of {@code grant}), the holder-side enforcement is {@link FleetPermit}, the store-failure
 * policy {@link FailurePolicy} with its watch {@link StoreWatch}, and the status {@link LimiterSnapshot}.
 *
 * <p>Permits that were granted are released on a best-effort basis when the store is unreachable; their leases
 * end them regardless. Losing the permit table entirely (its owner and all its backups gone at once) starts an
 * empty one, and requests then in flight are not counted: the maps keep two backups to make that unlikely.
 *
 * <p>Depends on {@code limits}, {@code cluster}, {@code limits.fleet.grant}, Hazelcast and Bucket4j.
 */
package dev.sluice.worker.limits.fleet;
