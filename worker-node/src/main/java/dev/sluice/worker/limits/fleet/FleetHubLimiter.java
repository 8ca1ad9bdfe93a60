package dev.sluice.worker.limits.fleet;

import com.hazelcast.config.Config;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.LimiterListener;
import dev.sluice.worker.limits.fleet.grant.GrantRight;
import dev.sluice.worker.limits.fleet.grant.MajorityRule;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The Hub's limits for the whole fleet, kept in the embedded Hazelcast cluster: at most
 * {@code hub.max_concurrent_connections} requests in flight and at most {@code hub.max_requests_per_second} in any
 * sliding second, whatever the number of nodes. The design (one clock, the permit table, combined store calls, the
 * rate bucket, the order of a grant, 429s, store failures, the seconds before a split is noticed) is this package's
 * documentation ({@code package-info.java}).
 *
 * <p>This class only wires and decides acquires; the store port is {@link FleetStore} (the permit table, the bucket,
 * the control topics), who may grant and send is {@link Fencing} (with the grantor lease of {@code grant}), the
 * holder-side enforcement is {@link FleetPermit}, the store-failure policy {@link FailurePolicy} and its watch
 * {@link StoreWatch}, and the status {@link LimiterSnapshot}.
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

    /**
     * A view of the fleet's limits read at most this long ago is fresh: only then may a reservation time several
     * tokens, since the bucket cannot have a faster configuration than the view knows (see {@link #followLimits}).
     */
    static final long LIMITS_FRESH_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A raised rate reaches the bucket this long after the node heard of it: at least {@link #LIMITS_FRESH_NANOS}. */
    static final long RAISE_DELAY_NANOS = LIMITS_FRESH_NANOS;

    private final ClusterMember member;
    /** The settings with the limits in force now (the configuration's, then the fleet's live ones). */
    private volatile FleetSettings settings;
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
    private volatile long sendBudgetNanos;
    private final NodeGate gate;
    private final AtomicLong sequence = new AtomicLong();
    private final ScheduledExecutorService watcher;
    private final LongAdder lateTokens = new LongAdder();
    private final LongAdder skippedRenewals = new LongAdder();
    private final AtomicInteger heldHere = new AtomicInteger();
    private final StoreWatch storeWatch;
    private final LocalPause pause;
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

    public FleetHubLimiter(ClusterMember member, FleetSettings settings) {
        this(member, settings, System::nanoTime);
    }

    /** @param nanoTime this process's monotonic clock, which every grant and send decision reads */
    FleetHubLimiter(ClusterMember member, FleetSettings settings, LongSupplier nanoTime) {
        this.member = member;
        this.settings = settings;
        this.nodeId = member.nodeId();
        this.nanoTime = nanoTime;
        this.pause = new LocalPause(nanoTime);
        RateShape shape = RateShape.of(settings.maxPerSecond());
        this.shape = shape;
        this.store = new FleetStore(member, settings, shape, pause::pauseFor);
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
                nanoTime, hot, pause::pauseFor);
        store.listenDemand(share::demand);

        // Half the tolerance for the holder (its send is checked again right before the first byte, after the
        // connection is made), half for the way from there to the Hub's count (network, the Hub's own scheduling,
        // which nothing here can check). A third for the holder was measured too: it gave up ten times the tokens
        // (94.0% of 100/s used instead of 95.4%) and the Hub's busiest second was no lower (docs/benchmarks.md).
        this.sendBudgetNanos = shape.latenessTolerance(settings.maxPerSecond()).toNanos() / 2;
        this.gate = new NodeGate(settings.maxInFlight());
        this.ahead = new TokenBuffer(AHEAD_NANOS, Math.max(1, settings.maxPerSecond() / 10), hot,
                settings.maxPerSecond(), shape.ratePerSecond(), sendBudgetNanos, share::nodes, nanoTime.getAsLong());
        store.reserveAheadInto(ahead);
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-limiter-watch")
                .daemon().unstarted(r));
        this.storeWatch = new StoreWatch(member, fencing, policy, store, () -> closed);
        watcher.scheduleWithFixedDelay(storeWatch, settings.probeEvery().toMillis(), settings.probeEvery().toMillis(),
                TimeUnit.MILLISECONDS);
        // The keeper looks every 100 ms at most (idle permits go back 300 ms after their last use, well within a
        // second), and renews the permits this node holds every quarter of the grace (at most every 250 ms).
        long renewEveryMs = Math.clamp(settings.grace().toMillis() / 4, 20, 250);
        long keepEveryMs = Math.min(renewEveryMs, 100);
        this.keeper = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-limiter-keeper")
                .daemon().unstarted(r));
        keeper.scheduleWithFixedDelay(new Keeper(ahead, share, TimeUnit.MILLISECONDS.toNanos(renewEveryMs), nanoTime,
                () -> closed), keepEveryMs, keepEveryMs, TimeUnit.MILLISECONDS);
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
        FleetSettings old = settings;
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
        new LimiterMeters(this).bindTo(meters);
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
                    Long leaseFrom = store.takePermit(id, settings.lease().toMillis(), settings.poll().toNanos(), deadline);
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
        pause.pauseFor(pauseMs);
        try {
            store.pause(pauseMs);
            log.info("Hub asked for a pause of {} ms; the whole fleet pauses", pauseMs);
        } catch (StoreFailure e) {
            degrade(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Treats the store as untrusted, for {@code reason} (a member joined that is not a registered Sluice node):
     * {@code cluster.on_store_failure} applies, as when the store fails, until {@link #trust()}.
     */
    public void distrust(String reason) {
        storeWatch.distrust(reason);
    }

    /** Ends {@link #distrust}: the limiter recovers at its next watch once the store answers under a majority. */
    public void trust() {
        storeWatch.trust();
    }

    void degrade(String reason) {
        storeWatch.degrade(reason);
    }

    /** How much longer this node holds its requests back for a pause it heard of or caused; zero when none. */
    Duration localPause() {
        return pause.left();
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

    public FleetSettings settings() {
        return settings;
    }

    /** The limiter's state with the permit table read from its owner (one store call). */
    public LimiterSnapshot snapshot() {
        LimiterSnapshot.Table table = policy.degraded() ? LimiterSnapshot.Table.UNREAD : LimiterSnapshot.Table.read(store);
        String why = fencing.whyNot();
        FleetSettings now = settings;
        return new LimiterSnapshot(now.maxInFlight(), now.maxPerSecond(), heldHere.get(), degradedReason(),
                now.onStoreFailure().id(), fallbacks(), lateTokens(), releaseFailures(), table.byHolder(),
                table.waiting(), table.pausedUntil(), fencing.describe(), why.isEmpty() ? "yes" : why, fencedSends(),
                storeCalls(), store.tableCalls(), permitsHeld(), expiredTokens(), limitsVersion, store.staleReservations());
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
