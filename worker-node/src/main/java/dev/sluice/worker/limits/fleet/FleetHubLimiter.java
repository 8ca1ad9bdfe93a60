package dev.sluice.worker.limits.fleet;

import com.hazelcast.config.Config;
import dev.sluice.common.config.ClusterConfig;
import dev.sluice.common.config.HubConfig;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.LimiterListener;
import dev.sluice.worker.limits.fleet.grant.GrantRight;
import dev.sluice.worker.limits.fleet.grant.MajorityRule;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The Hub's limits for the whole fleet, kept in the embedded Hazelcast cluster: at most
 * {@code hub.max_concurrent_connections} requests in flight and at most {@code hub.max_requests_per_second} in any
 * sliding second, whatever the number of nodes.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>One clock.</b> Both structures are timed by the wall clock of the member that owns their map entry:
 *       entry processors run there, and Bucket4j is given no client clock, so it too reads the owner's clock. Node
 *       clocks never enter a decision. When the owner changes (it died, partitions migrated) the new owner's clock
 *       takes over; NTP-synchronized hosts differ by milliseconds, well inside the lease grace.</li>
 *   <li><b>Concurrency</b> is a {@link PermitTable} in the map {@value #PERMITS_MAP}, changed only by
 *       {@link PermitProcessor}s. A permit is a lease of {@code hub.request_timeout_ms + hub.permit_grace_ms}; it
 *       ends on release or at its end, never earlier, even when its holder died or is cut off, since its request
 *       may still run at the Hub. Waiters take FIFO tickets, so no node starves: free permits go to the oldest
 *       tickets, and a releaser wakes the waiters whose turn came (topic {@value #WAKE_TOPIC}); others re-ask at
 *       least every {@code poll} and when the next lease ends. Each node lets at most {@code max_in_flight} of its
 *       threads hold or wait for permits (a local fair gate), so the table stays small.</li>
 *   <li><b>Combined store calls.</b> Each node sends the table and bucket requests of all its waiting threads as
 *       one call at a time ({@link Combiner}): the permit table's operations as one batch applied in order, the
 *       tokens as one reservation of {@code k} tokens whose individual times follow from the greedy refill. A hot
 *       entry thus sees a few calls per round trip per node, not one per waiting thread, and round trips stay short
 *       at high limits (one entry per structure caps what the fleet can do: see docs/benchmarks.md).</li>
 *   <li><b>Rate</b> is a Bucket4j bucket in {@value #RATE_MAP} (one per configured limit) shaped by {@link RateShape} so the Hub-side bound
 *       holds in any sliding second. Tokens are reserved (Bucket4j's blocking consume), so waiters are served in
 *       order with one store call each. The owner computes a token's time somewhere between the holder's question
 *       and its answer, so the holder waits until the answer's time plus the announced wait (never early); if
 *       by then more than half the shape's lateness tolerance has passed since the question's time
 *       plus the wait (a stalled thread, a slow store answer), it leaves the token unused and takes another.
 *       The Hub client asks once more ({@link Permit#onTime()}) at the last moment, after its connection is made
 *       and before the request's first byte: a request that would leave later (a cold node's first connection, a
 *       stalled thread) is held back and takes a new token ({@link Permit#renewToken}). Requests thus leave within
 *       that budget after their tokens' times, and the bound holds at the Hub, not only in the bucket.</li>
 *   <li><b>Order of a grant:</b> permit; then a token reserved; then, while the holder waits for the token's
 *       time, the permit's lease is started again from that time and the pause is checked (one store call), unless
 *       the request leaves within half of {@code hub.permit_grace_ms} after the grant was asked, when the lease it
 *       has (request timeout plus grace) covers it and a pause is known from the topic; then the request goes out.
 *       The token is the last thing taken, so the request leaves at its token's time.</li>
 *   <li><b>429.</b> {@link #pauseFor} sets a pause end in the permit table (owner's clock) and tells every member
 *       (topic {@value #PAUSE_TOPIC}); no permit is granted before it, and a holder whose token falls in a pause
 *       gives the token up and waits. Pauses and wake-ups are control messages ({@link ControlTopic}), sealed under
 *       {@code cluster.secret}: a member that is not a Sluice node with the secret cannot pause the fleet that way.
 *       </li>
 *   <li><b>Store failures.</b> The maps are guarded by Hazelcast split-brain protection
 *       ({@link ClusterMember#MAJORITY}: a majority of the last known fleet). Without a majority, or when a store
 *       call fails or does not answer within {@code store_timeout}, the limiter is <em>degraded</em> and applies
 *       {@code cluster.on_store_failure}: {@code fail-closed} (default) grants nothing until the store is back;
 *       {@code local-share} enforces {@code floor(limit / last known fleet size)} (at least 1) of each limit on
 *       this node alone, which lets a split fleet exceed the Hub's limits by the minority's share (and by the
 *       requests still running when the store comes back); {@code fail-open} grants everything. Each episode is
 *       reported to {@link LimiterListener}s and every acquire the policy decided is counted. A watcher checks the
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
 * <p><b>Where each job lives.</b> This class only wires and decides acquires; the store port is {@link FleetStore}
 * (the permit table, the bucket, the control topics), who may grant and send is {@link Fencing} (with the grantor
 * lease of {@code grant}), the holder-side enforcement is {@link FleetPermit}, the store-failure policy
 * {@link FailurePolicy}, and the status {@link Snapshot}.
 *
 * <p>Permits that were granted are released on a best-effort basis when the store is unreachable; their leases
 * end them regardless. Losing the permit table entirely (its owner and all its backups gone at once) starts an
 * empty one, and requests then in flight are not counted: the maps keep two backups to make that unlikely.
 */
public final class FleetHubLimiter implements HubLimiter {
    private static final Logger log = LoggerFactory.getLogger(FleetHubLimiter.class);

    /**
     * The member attribute naming the limiter protocol a node speaks (see {@link Fencing}). A fleet that mixes
     * protocols would have two rules for who grants, so a node that sees a member of another protocol grants nothing.
     */
    public static final String PROTOCOL_ATTRIBUTE = Fencing.PROTOCOL_ATTRIBUTE;
    public static final String PROTOCOL = Fencing.PROTOCOL;
    /** The maps the store keeps in the cluster (the permit table, the rate buckets). */
    public static final String PERMITS_MAP = FleetStore.PERMITS_MAP;
    public static final String RATE_MAP = FleetStore.RATE_MAP;
    /** From this many requests a second per node on, permits are kept and tokens reserved ahead (the hot path). */
    static final int HOT_PER_NODE = 20;
    /** An idle kept permit goes back to the fleet after this long. */
    private static final long IDLE_RELEASE_NANOS = TimeUnit.MILLISECONDS.toNanos(300);
    /** A request waiting for one of its node's kept permits looks again whether it should ask the table this often. */
    private static final long LOCAL_WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** Tokens are reserved for about this much of a node's recent use ahead. */
    private static final long AHEAD_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** The longest pause a message from another node can ask for: hub.max_retry_after_secs at most. */
    private static final long MAX_HEARD_PAUSE_MS = TimeUnit.DAYS.toMillis(1);

    /** {@code cluster.on_store_failure}. */
    /**
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
    public record Settings(int maxInFlight, int maxPerSecond, Duration lease, Duration grace, StoreFailurePolicy onStoreFailure,
                           Duration poll, Duration ticketTtl, Duration storeTimeout, Duration probeEvery) {
        public Settings {
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

        public static Settings of(HubConfig hub, ClusterConfig cluster) {
            return new Settings(hub.maxConcurrentConnections(), hub.maxRequestsPerSecond(),
                    Duration.ofMillis(hub.permitLeaseMs()), Duration.ofMillis(hub.permitGraceMs()), cluster.onStoreFailure(),
                    Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(500));
        }

        /** These settings with the fleet's limits {@code maxInFlight} and {@code maxPerSecond}. */
        public Settings withLimits(int maxInFlight, int maxPerSecond) {
            return new Settings(maxInFlight, maxPerSecond, lease, grace, onStoreFailure, poll, ticketTtl, storeTimeout,
                    probeEvery);
        }

        public Settings withOnStoreFailure(StoreFailurePolicy policy) {
            return new Settings(maxInFlight, maxPerSecond, lease, grace, policy, poll, ticketTtl, storeTimeout, probeEvery);
        }
    }

    /**
     * A view of the fleet's limits read at most this long ago is fresh: only then may a reservation time several
     * tokens, since the bucket cannot have a faster configuration than the view knows (see {@link #followLimits}).
     */
    static final long LIMITS_FRESH_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A raised rate reaches the bucket this long after the node heard of it: at least {@link #LIMITS_FRESH_NANOS}. */
    static final long RAISE_DELAY_NANOS = LIMITS_FRESH_NANOS;

    private final ClusterMember member;
    /** The settings with the limits in force now (the configuration's, then the fleet's live ones). */
    private volatile Settings settings;
    private volatile RateShape shape;
    /** The version of the fleet's limits this node follows; 0 while it follows none (the configuration's). */
    private volatile long limitsVersion;
    private volatile boolean followsFleet;
    /** When the latest read of the fleet's limits was started (nanoTime), 0 before the first. */
    private volatile long limitsReadAt;
    private final String nodeId;
    private final LongSupplier nanoTime;
    private final FleetStore store;
    private final Fencing fencing;
    private final FailurePolicy policy;
    private final PermitShare share;
    private final TokenBuffer ahead;
    private final ScheduledExecutorService keeper;
    private final long renewEveryNanos;
    private long lastRenewal;
    private volatile long sendBudgetNanos;
    private final Gate gate;
    private final AtomicLong sequence = new AtomicLong();
    private final ScheduledExecutorService watcher;
    private final LongAdder lateTokens = new LongAdder();
    private final LongAdder skippedRenewals = new LongAdder();
    private final AtomicInteger heldHere = new AtomicInteger();
    private String reportedMismatch;
    private volatile String distrust;
    private volatile long localPauseUntil;
    private volatile boolean closed;

    /**
     * Adds what the limiter keeps in the cluster to a member's {@link Config}: its protocol attribute, the majority
     * protection, the Java serialization allow-list ({@link ClusterMember#restrictJavaSerialization}) if the config
     * has no filter yet, and the store's maps and serializers ({@link FleetStore#configure}). Every member needs it.
     */
    public static Config configure(Config config) {
        config.getMemberAttributeConfig().setAttribute(PROTOCOL_ATTRIBUTE, PROTOCOL);
        ClusterMember.addMajorityProtection(config);
        ClusterMember.restrictJavaSerialization(config);
        return FleetStore.configure(config);
    }

    public FleetHubLimiter(ClusterMember member, Settings settings) {
        this(member, settings, System::nanoTime);
    }

    /** @param nanoTime this process's monotonic clock, which every grant and send decision reads */
    FleetHubLimiter(ClusterMember member, Settings settings, LongSupplier nanoTime) {
        this.member = member;
        this.settings = settings;
        this.nodeId = member.nodeId();
        this.nanoTime = nanoTime;
        this.localPauseUntil = nanoTime.getAsLong();
        RateShape shape = RateShape.of(settings.maxPerSecond());
        this.shape = shape;
        this.store = new FleetStore(member, settings, shape, this::pauseLocally);
        store.judgeFreshnessBy(this::limitsFresh);
        this.fencing = new Fencing(new MajorityRule(member), nanoTime);
        this.policy = new FailurePolicy(() -> this.settings, member::lastKnownSize);
        // The hot path: from about 20 requests a second per node on, each node keeps its permits between requests
        // and reserves rate tokens ahead of its requests, so that Hub calls do not each cost a store call.
        // A node whose view of the fleet's limits is not fresh keeps no permits either: each request then takes its
        // own from the table, which grants by the newest in-flight limit any node told it of.
        java.util.function.BooleanSupplier hot = () -> this.settings.maxPerSecond() >= HOT_PER_NODE * Math.max(1, member.lastKnownSize())
                && limitsFresh();
        this.share = new PermitShare(store, settings.maxInFlight(), settings.lease().toMillis(), IDLE_RELEASE_NANOS,
                nanoTime, hot, this::pauseLocally);
        store.listenDemand(share::demand);

        // Half the tolerance for the holder (its send is checked again right before the first byte, after the
        // connection is made), half for the way from there to the Hub's count (network, the Hub's own scheduling,
        // which nothing here can check). A third for the holder was measured too: it gave up ten times the tokens
        // (94.0% of 100/s used instead of 95.4%) and the Hub's busiest second was no lower (docs/benchmarks.md).
        this.sendBudgetNanos = shape.latenessTolerance(settings.maxPerSecond()).toNanos() / 2;
        this.gate = new Gate(settings.maxInFlight());
        this.ahead = new TokenBuffer(AHEAD_NANOS, Math.max(1, settings.maxPerSecond() / 10), hot,
                settings.maxPerSecond(), shape.ratePerSecond(), sendBudgetNanos, share::nodes, nanoTime.getAsLong());
        store.reserveAheadInto(ahead);
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-limiter-watch")
                .daemon().unstarted(r));
        watcher.scheduleWithFixedDelay(this::watch, settings.probeEvery().toMillis(), settings.probeEvery().toMillis(),
                TimeUnit.MILLISECONDS);
        // The keeper looks every 100 ms at most (idle permits go back 300 ms after their last use, well within a
        // second), and renews the permits this node holds every quarter of the grace (at most every 250 ms).
        long renewEveryMs = Math.clamp(settings.grace().toMillis() / 4, 20, 250);
        this.renewEveryNanos = TimeUnit.MILLISECONDS.toNanos(renewEveryMs);
        this.lastRenewal = nanoTime.getAsLong() - renewEveryNanos;
        long keepEveryMs = Math.min(renewEveryMs, 100);
        this.keeper = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-limiter-keeper")
                .daemon().unstarted(r));
        keeper.scheduleWithFixedDelay(this::keep, keepEveryMs, keepEveryMs, TimeUnit.MILLISECONDS);
        log.info("fleet Hub limits: {} in flight (leases of {} ms), {} per second as a bucket of {} refilled {} per {} ms; "
                        + "on store failure: {}", settings.maxInFlight(), settings.lease().toMillis(), settings.maxPerSecond(),
                shape.capacity(), shape.refillTokens(), shape.refillPeriod().toMillis(), settings.onStoreFailure().id());
    }

    /**
     * This limiter follows the fleet's live limits from now on ({@link #followLimits}): until its first read of them,
     * and whenever its latest read is older than {@link #LIMITS_FRESH_NANOS}, each rate reservation takes one token.
     */
    public void expectFleetLimits() {
        followsFleet = true;
    }

    /** A read of the fleet's limits that was started at {@code startedAt} (this process's nanoTime) succeeded. */
    public void limitsRead(long startedAt) {
        limitsReadAt = startedAt;
    }

    boolean limitsFresh() {
        long readAt = limitsReadAt;
        return !followsFleet || (readAt != 0 && nanoTime.getAsLong() - readAt < LIMITS_FRESH_NANOS);
    }

    /** The version of the fleet's limits this limiter follows, 0 while it follows the configuration's. */
    public long limitsVersion() {
        return limitsVersion;
    }

    /**
     * Follows version {@code version} of the fleet's live limits from now on (a newer one than it had).
     *
     * <ul>
     *   <li><b>In flight.</b> The permit table keeps the in-flight limit of the newest version a batch told it of and
     *       grants by it. Lowered, this node keeps none of its permits: idle ones go back at once, busy ones when
     *       their requests end, so permits are granted only while fewer than the new limit run.</li>
     *   <li><b>Rate.</b> The fleet has one bucket; a reservation carrying a newer version replaces its configuration
     *       (tokens as they are), so the fleet never runs two buckets. Lowered, this node's next reservation carries
     *       the new version. Raised, the new version reaches the bucket only {@link #RAISE_DELAY_NANOS} after this
     *       node heard of it: by then every node whose view is fresh has heard of it too, and a node whose view is
     *       older reserves one token at a time, so no node times the tokens of a batch by a slower rate than the
     *       bucket's. Tokens already given keep their times: a second never holds more than the higher limit.</li>
     * </ul>
     */
    public synchronized void followLimits(long version, int maxPerSecond, int maxInFlight) {
        followsFleet = true;
        if (version <= limitsVersion) {
            return;
        }
        Settings old = settings;
        RateShape before = shape;
        RateShape next = RateShape.of(maxPerSecond);
        long budget = next.latenessTolerance(maxPerSecond).toNanos() / 2;
        settings = old.withLimits(maxInFlight, maxPerSecond);
        shape = next;
        limitsVersion = version;
        sendBudgetNanos = budget;
        gate.resize(old.maxInFlight(), maxInFlight);
        share.limitChanged(maxInFlight);
        ahead.retune(maxPerSecond, next.ratePerSecond(), budget);
        store.tableLimits(version, maxInFlight);
        if (next.ratePerSecond() > before.ratePerSecond()) {
            store.spaceTokens(next); // a closer spacing times tokens later, never early, whatever the bucket has
            try {
                keeper.schedule(() -> {
                    if (limitsVersion == version) {
                        store.useBucket(version, next);
                    }
                }, RAISE_DELAY_NANOS, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                log.debug("the limiter is closed; the raise is not pushed");
            }
        } else {
            store.useBucket(version, next); // first: a reader that sees the new spacing then sees this bucket
            store.spaceTokens(next);
        }
        if (old.maxInFlight() != maxInFlight || old.maxPerSecond() != maxPerSecond) {
            log.info("fleet Hub limits now {} in flight and {} per second (version {}; were {} and {})", maxInFlight,
                    maxPerSecond, version, old.maxInFlight(), old.maxPerSecond());
        }
    }

    /** The node-local gate of threads that hold or wait for permits: as many as the in-flight limit. */
    private static final class Gate extends Semaphore {
        Gate(int permits) {
            super(permits, true);
        }

        void resize(int from, int to) {
            if (to > from) {
                release(to - from);
            } else if (to < from) {
                reducePermits(from - to);
            }
        }
    }

    /**
     * Decides from now on who may take new capacity and when held capacity may still be sent: a worker node passes
     * its {@link dev.sluice.worker.limits.fleet.grant.GrantorLease}. Until then (and for a store used without Redis)
     * the {@link MajorityRule} applies.
     */
    public void decideGrantsBy(GrantRight right) {
        fencing.decideBy(right);
    }

    /** Whether this node may take new capacity from the store now: it holds or sees the grant right and is not degraded. */
    public boolean granting() {
        return !policy.degraded() && fencing.mayGrantNow();
    }

    /** Requests held back right before their first byte because this node's side may no longer send, since start. */
    public long fencedSends() {
        return fencing.fencedSends();
    }

    @Override
    public void addListener(LimiterListener listener) {
        policy.addListener(listener);
    }

    @Override
    public String refusesBecause() {
        return degraded() && stopsWhileDegraded() ? "no new Hub calls (cluster.on_store_failure = fail-closed): "
                + degradedReason() : null;
    }

    @Override
    public boolean stopsWhileDegraded() {
        return settings.onStoreFailure() == StoreFailurePolicy.FAIL_CLOSED;
    }

    @Override
    public boolean followsFleetLimits() {
        return true;
    }

    @Override
    public void bindTo(MeterRegistry meters) {
        Gauge.builder("sluice.limiter.degraded", this, f -> f.degraded() ? 1 : 0)
                .description("1 while the fleet limiter runs on cluster.on_store_failure").register(meters);
        FunctionCounter.builder("sluice.limiter.fallbacks", this, FleetHubLimiter::fallbacks)
                .description("Acquires decided by cluster.on_store_failure, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.degradations", this, FleetHubLimiter::degradations)
                .description("Times the fleet limiter became degraded, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.late_tokens", this, FleetHubLimiter::lateTokens)
                .description("Rate tokens left unused because their request would have left too late, since start").register(meters);
        FunctionCounter.builder("sluice.limiter.release_failures", this, FleetHubLimiter::releaseFailures)
                .description("Fleet permits whose release failed (they come back when their lease ends), since start")
                .register(meters);
        FunctionCounter.builder("sluice.limiter.store.calls", this, FleetHubLimiter::storeCalls)
                .description("Calls to the fleet limiter's store (permit table and rate bucket)").register(meters);
        FunctionCounter.builder("sluice.limiter.expired.tokens", this, FleetHubLimiter::expiredTokens)
                .description("Rate tokens reserved ahead of this node's requests that expired unused").register(meters);
        Gauge.builder("sluice.limiter.permits.held", this, FleetHubLimiter::permitsHeld)
                .description("Fleet permits this node holds, in use or kept for its next requests").register(meters);
    }

    @Override
    public Permit acquire(Duration maxWait) throws InterruptedException {
        long deadline = nanoTime.getAsLong() + maxWait.toNanos();
        while (true) {
            FailurePolicy.Degraded d = policy.current();
            if (d != null) {
                Permit p = policy.fallback(d, deadline);
                if (p != null || policy.degraded() || nanoTime.getAsLong() >= deadline) {
                    return p;
                }
                continue; // recovered while waiting (fail-closed)
            }
            try {
                return fleetAcquire(deadline);
            } catch (StoreFailure e) {
                degrade(e.getMessage());
            }
        }
    }

    private Permit fleetAcquire(long deadline) throws StoreFailure, InterruptedException {
        if (!fencing.awaitGrantRight(deadline)) {
            return null;
        }
        if (!gate.tryAcquire(Math.max(0, deadline - nanoTime.getAsLong()), TimeUnit.NANOSECONDS)) {
            return null;
        }
        boolean handedOut = false;
        try {
            HeldPermit held = share.take();
            while (held == null) {
                if (share.mayAskTable()) {
                    String id = nodeId + "/" + sequence.incrementAndGet();
                    Long leaseFrom = takePermit(id, deadline);
                    if (leaseFrom == null) {
                        return null;
                    }
                    held = share.granted(id, leaseFrom);
                    try {
                        fencing.stillMayGrant();
                    } catch (StoreFailure e) {
                        share.release(held); // granted on this side's copy alone: given back, never used
                        throw e;
                    }
                } else {
                    // This node holds its share: wait for one of its own permits to come back, without a store call.
                    long left = deadline - nanoTime.getAsLong();
                    if (left <= 0) {
                        return null;
                    }
                    held = share.awaitKept(Math.min(left, LOCAL_WAIT_SLICE_NANOS));
                }
            }
            try {
                FleetPermit permit = new FleetPermit(this, store, fencing, share, ahead, held);
                if (permit.takeToken(deadline)) {
                    handedOut = true;
                    heldHere.incrementAndGet();
                    return permit;
                }
                return null;
            } finally {
                if (!handedOut) {
                    share.giveBack(held);
                }
            }
        } finally {
            if (!handedOut) {
                gate.release();
            }
        }
    }

    /** The keeper's round: this node's permit share renewed and fitted to demand, the rate of token use sampled. */
    private void keep() {
        if (closed) {
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

    /**
     * Takes a permit: returns the moment (this node's {@link System#nanoTime()}) its granting call was asked, which its
     * lease runs from at the earliest, or null when none came before the deadline.
     */
    private Long takePermit(String id, long deadline) throws StoreFailure, InterruptedException {
        Semaphore wake = store.wakeUpsOf(id);
        boolean queued = false;
        try {
            while (true) {
                wake.drainPermits(); // a wake-up that comes while the table is asked counts for the next wait
                long asked = System.nanoTime();
                PermitTable.Reply reply = PermitTable.Reply.fromWire(store.answer(
                        store.step(PermitProcessor.Op.ACQUIRE, id, settings.lease().toMillis())));
                long left = deadline - System.nanoTime();
                switch (reply.state()) {
                    case GRANTED -> {
                        return asked;
                    }
                    case PAUSED -> {
                        long pause = TimeUnit.MILLISECONDS.toNanos(reply.millis());
                        if (pause >= left) {
                            if (queued) {
                                store.cancelQuietly(id);
                            }
                            return null;
                        }
                        TimeUnit.NANOSECONDS.sleep(pause);
                    }
                    default -> {
                        queued = true;
                        if (left <= 0) {
                            store.cancelQuietly(id);
                            return null;
                        }
                        long hint = reply.millis() > 0 ? TimeUnit.MILLISECONDS.toNanos(reply.millis()) : Long.MAX_VALUE;
                        long wait = Math.min(Math.min(settings.poll().toNanos(), hint), left);
                        boolean woken = wake.tryAcquire(Math.max(1, wait), TimeUnit.NANOSECONDS);
                        log.trace("permit waiter {} at position {} {}", id, reply.position(), woken ? "woken" : "polls");
                    }
                }
            }
        } catch (InterruptedException e) {
            // The acquire may still be applied after this thread stopped waiting for it: withdraw both.
            store.cancelQuietly(id);
            store.releaseAsync(id);
            throw e;
        } finally {
            store.forget(id);
        }
    }

    static void sleepOutPause(long pauseNanos, long deadline) throws InterruptedException {
        TimeUnit.NANOSECONDS.sleep(Math.min(pauseNanos, Math.max(0, deadline - System.nanoTime())));
    }

    /** Half the rate's lateness tolerance: how late after its token's time a holder may still send. */
    long sendBudgetNanos() {
        return sendBudgetNanos;
    }

    /** A permit of this node was handed back or left to its lease. */
    void handedBack() {
        heldHere.decrementAndGet();
        gate.release();
    }

    void lateToken() {
        lateTokens.increment();
    }

    void skippedRenewal() {
        skippedRenewals.increment();
    }

    @Override
    public void pauseFor(Duration retryAfter) {
        policy.pauseFor(retryAfter);
        long pauseMs = Math.max(1, retryAfter.toMillis());
        pauseLocally(pauseMs);
        try {
            store.pause(pauseMs);
            log.info("Hub asked for a pause of {} ms; the whole fleet pauses", pauseMs);
        } catch (StoreFailure e) {
            degrade(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A pause another node announced, in ms; an IllegalArgumentException drops the message as malformed. */
    static long heardPause(String payload) {
        long pauseMs = Long.parseLong(payload);
        if (pauseMs < 1 || pauseMs > MAX_HEARD_PAUSE_MS) {
            throw new IllegalArgumentException("a pause must be between 1 and " + MAX_HEARD_PAUSE_MS + " ms, but was "
                    + pauseMs);
        }
        return pauseMs;
    }

    /** How much longer this node holds its requests back for a pause it heard of or caused; zero when none. */
    Duration localPause() {
        return Duration.ofNanos(Math.max(0, localPauseUntil - nanoTime.getAsLong()));
    }

    /** Holders between their token and their request hear of a pause at once, without asking the store. */
    private void pauseLocally(long pauseMs) {
        long until = nanoTime.getAsLong() + TimeUnit.MILLISECONDS.toNanos(pauseMs);
        if (until - localPauseUntil > 0) {
            localPauseUntil = until;
        }
    }

    /**
     * Treats the store as untrusted, for {@code reason} (a member joined that is not a registered Sluice node):
     * {@code cluster.on_store_failure} applies, as when the store fails, until {@link #trust()}.
     */
    public void distrust(String reason) {
        distrust = reason;
        degrade(reason);
    }

    /** Ends {@link #distrust}: the limiter recovers at its next watch once the store answers under a majority. */
    public void trust() {
        distrust = null;
    }

    void degrade(String reason) {
        if (!closed) {
            policy.degrade(reason);
        }
    }

    /**
     * Every {@code probe_every}: an untrusted store (a distrusted member, another limiter protocol) degrades the
     * limiter and becomes its reason; a grant right missing for a reason that does not end by itself degrades it; a
     * wait that ends by itself is told to the listeners; a degraded limiter whose reason is gone recovers once the
     * store answers.
     */
    private void watch() {
        if (closed) {
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

    /** Whether the fallback policy applies now. */
    public boolean degraded() {
        return policy.degraded();
    }

    /** Why the limiter is degraded, or null. */
    public String degradedReason() {
        return policy.reason();
    }

    /** Acquires decided by {@code cluster.on_store_failure} instead of the fleet store. */
    public long fallbacks() {
        return policy.fallbacks();
    }

    /** Episodes of degradation so far. */
    public long degradations() {
        return policy.degradations();
    }

    /** Rate tokens left unused because their holder would have sent too long after the token's time. */
    public long lateTokens() {
        return lateTokens.sum();
    }

    /** Tokens used without starting the permit's lease again: the request left well within the lease it had. */
    public long skippedRenewals() {
        return skippedRenewals.sum();
    }

    /** Releases that did not reach the store (their leases ended those permits). */
    public long releaseFailures() {
        return store.releaseFailures();
    }

    /** Calls to the fleet's store (permit table and rate bucket) since start. */
    public long storeCalls() {
        return store.calls();
    }

    /** Rate tokens reserved ahead of this node's requests that expired unused, since start. */
    public long expiredTokens() {
        return ahead.expired();
    }

    /** Permits this node holds now, in use or kept idle for its next requests. */
    @Override
    public int permitsHeld() {
        return share.held();
    }

    public Settings settings() {
        return settings;
    }

    /**
     * The limiter as {@code /api/status} shows it.
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
    public record Snapshot(int maxInFlight, int maxPerSecond, int heldHere, String degraded, String onStoreFailure,
                           long fallbacks, long lateTokens, long releaseFailures, Map<String, Leases> fleetLeases,
                           int fleetWaiting, long pausedUntil, String grantor, String mayGrant, long fencedSends,
                           long storeCalls, long tableCalls, int permitsKept, long expiredTokens,
                           long limitsVersion, long staleReservations) {
    }

    /** A holder's leases in the permit table. */
    public record Leases(int count, long lastEndsAt) {
    }

    /** The limiter's state with the permit table read from its owner (one store call). */
    public Snapshot snapshot() {
        Map<String, Leases> byHolder = null;
        int waiting = -1;
        long pausedUntil = -1;
        if (!policy.degraded()) {
            try {
                PermitTable table = store.inspect();
                byHolder = new TreeMap<>();
                for (PermitTable.Lease lease : table.leases()) {
                    byHolder.merge(lease.holder(), new Leases(1, lease.endMs()),
                            (a, b) -> new Leases(a.count() + b.count(), Math.max(a.lastEndsAt(), b.lastEndsAt())));
                }
                waiting = table.tickets().size();
                pausedUntil = table.pausedUntilMs();
            } catch (StoreFailure e) {
                log.debug("the permit table could not be read for the status: {}", e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        String why = fencing.whyNot();
        Settings now = settings;
        return new Snapshot(now.maxInFlight(), now.maxPerSecond(), heldHere.get(), degradedReason(),
                now.onStoreFailure().id(), fallbacks(), lateTokens(), releaseFailures(), byHolder, waiting,
                pausedUntil, fencing.describe(), why.isEmpty() ? "yes" : why, fencedSends(), storeCalls(), store.tableCalls(), permitsHeld(),
                expiredTokens(), limitsVersion, store.staleReservations());
    }

    /** The permit table as its owner has it now (for tests and diagnostics). */
    PermitTable inspect() throws StoreFailure, InterruptedException {
        return store.inspect();
    }

    @Override
    public void close() {
        closed = true;
        policy.close();
        watcher.shutdownNow();
        keeper.shutdownNow();
        share.releaseIdle();
        store.close();
    }
}
