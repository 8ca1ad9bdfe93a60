package dev.sluice.worker.limits;

import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import dev.sluice.common.config.ClusterConfig;
import dev.sluice.common.config.HubConfig;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.cluster.ControlTopic;
import dev.sluice.worker.limits.grant.GrantRight;
import dev.sluice.worker.limits.grant.MajorityRule;
import io.github.bucket4j.BlockingStrategy;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.grid.hazelcast.Bucket4jHazelcast;
import io.github.bucket4j.grid.hazelcast.HazelcastEntryProcessor;
import io.github.bucket4j.grid.hazelcast.HazelcastProxyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serial;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

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
 * <p>Permits that were granted are released on a best-effort basis when the store is unreachable; their leases
 * end them regardless. Losing the permit table entirely (its owner and all its backups gone at once) starts an
 * empty one, and requests then in flight are not counted: the maps keep two backups to make that unlikely.
 */
public final class FleetHubLimiter implements HubLimiter {
    private static final Logger log = LoggerFactory.getLogger(FleetHubLimiter.class);

    public static final String PERMITS_MAP = "sluice-limits-permits";
    /**
     * The member attribute naming the limiter protocol a node speaks. Protocol 2 grants only on the side holding the
     * grantor lease in Redis; protocol 1 (no attribute) went by the majority of the last known fleet. A fleet that
     * mixes them would have two rules for who grants, so a node that sees a member of another protocol grants nothing.
     */
    public static final String PROTOCOL_ATTRIBUTE = "sluice.limiter.protocol";
    public static final String PROTOCOL = "2";
    public static final String RATE_MAP = "sluice-limits-rate";
    static final String WAKE_TOPIC = "sluice-limits-wake";
    static final String PAUSE_TOPIC = "sluice-limits-pause";
    static final String KEY = "hub";
    private static final int BUCKET4J_TYPE_ID_BASE = 10_000;
    private static final Permit OPEN = () -> { };
    /** The longest pause a message from another node can ask for: hub.max_retry_after_secs at most. */
    private static final long MAX_HEARD_PAUSE_MS = TimeUnit.DAYS.toMillis(1);
    /** Most waiter requests one store call carries. */
    private static final int MAX_BATCH = 1_024;

    /** {@code cluster.on_store_failure}. */
    public enum OnStoreFailure {
        FAIL_CLOSED, LOCAL_SHARE, FAIL_OPEN;

        public static OnStoreFailure of(String configValue) {
            return valueOf(configValue.toUpperCase(Locale.ROOT).replace('-', '_'));
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

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
    public record Settings(int maxInFlight, int maxPerSecond, Duration lease, Duration grace, OnStoreFailure onStoreFailure,
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
                    Duration.ofMillis(hub.permitLeaseMs()), Duration.ofMillis(hub.permitGraceMs()), OnStoreFailure.of(cluster.onStoreFailure()),
                    Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(500));
        }

        public Settings withOnStoreFailure(OnStoreFailure policy) {
            return new Settings(maxInFlight, maxPerSecond, lease, grace, policy, poll, ticketTtl, storeTimeout, probeEvery);
        }
    }

    /** The degraded state of one episode. */
    private record Degraded(String reason, LocalHubLimiter localShare) {
    }

    private final ClusterMember member;
    private final Settings settings;
    private final String nodeId;
    private final IMap<String, byte[]> permits;
    private final Bucket bucket;
    private final long sendBudgetNanos;
    private final long graceNanos;
    private final ControlTopic wakeTopic;
    private final UUID wakeRegistration;
    private final ControlTopic pauseTopic;
    private final UUID pauseRegistration;
    private final Semaphore gate;
    private final long nanosPerToken;
    private final Combiner<PermitProcessor.Step, long[]> tableCalls;
    private final Combiner<Long, TokenTime> bucketCalls;
    private final Map<String, Semaphore> waiters = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private final List<LimiterListener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService watcher;
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder degradations = new LongAdder();
    private final LongAdder releaseFailures = new LongAdder();
    private final LongAdder lateTokens = new LongAdder();
    private final LongAdder skippedRenewals = new LongAdder();
    private final java.util.concurrent.atomic.AtomicInteger heldHere = new java.util.concurrent.atomic.AtomicInteger();
    private volatile Degraded degraded;
    private volatile GrantRight grants;
    private String reportedMismatch;
    private boolean waitingReported;
    private final LongAdder fencedSends = new LongAdder();
    private volatile String distrust;
    private volatile long localPauseUntil = System.nanoTime();
    private volatile boolean closed;

    /**
     * Adds what the limiter keeps in the cluster to a member's {@link Config}: the guarded maps (two synchronous
     * backups), the majority protection, the permit processors' factory and Bucket4j's serializers, and the Java
     * serialization allow-list ({@link ClusterMember#restrictJavaSerialization}) if the config has no filter yet.
     * Every member needs it.
     */
    public static Config configure(Config config) {
        config.getMemberAttributeConfig().setAttribute(PROTOCOL_ATTRIBUTE, PROTOCOL);
        ClusterMember.addMajorityProtection(config);
        ClusterMember.restrictJavaSerialization(config);
        config.addMapConfig(new MapConfig("sluice-limits-*")
                .setBackupCount(2)
                .setAsyncBackupCount(0)
                .setInMemoryFormat(InMemoryFormat.BINARY));
        SerializationConfig serialization = config.getSerializationConfig();
        serialization.getDataSerializableFactories().putIfAbsent(PermitProcessor.FACTORY_ID, new PermitProcessor.Factory());
        boolean bucket4jRegistered = serialization.getSerializerConfigs().stream()
                .anyMatch(s -> s.getTypeClass() == HazelcastEntryProcessor.class);
        if (!bucket4jRegistered) {
            HazelcastProxyManager.addCustomSerializers(serialization, BUCKET4J_TYPE_ID_BASE);
        }
        return config;
    }

    public FleetHubLimiter(ClusterMember member, Settings settings) {
        this.member = member;
        this.settings = settings;
        this.grants = new MajorityRule(member);
        this.nodeId = member.nodeId();
        HazelcastInstance hz = member.hazelcast();
        this.permits = hz.getMap(PERMITS_MAP);
        RateShape shape = RateShape.of(settings.maxPerSecond());
        IMap<String, byte[]> rate = hz.getMap(RATE_MAP);
        HazelcastProxyManager<String> buckets = Bucket4jHazelcast.entryProcessorBasedBuilder(rate).build();
        // One bucket per limit: a bucket keeps the configuration it was made with, so nodes restarted with a new
        // limit must not inherit the old one. During a rolling change the old and new limits' buckets both run.
        this.bucket = buckets.builder().build(KEY + "/" + settings.maxPerSecond() + "rps", shape::toBucketConfiguration);
        // Half the tolerance for the holder (its send is checked again right before the first byte, after the
        // connection is made), half for the way from there to the Hub's count (network, the Hub's own scheduling,
        // which nothing here can check). A third for the holder was measured too: it gave up ten times the tokens
        // (94.0% of 100/s used instead of 95.4%) and the Hub's busiest second was no lower (docs/benchmarks.md).
        this.sendBudgetNanos = shape.latenessTolerance(settings.maxPerSecond()).toNanos() / 2;
        this.graceNanos = settings.grace().toNanos();
        this.gate = new Semaphore(settings.maxInFlight(), true);
        // Rounded down, so a token's computed time is never before its real one.
        this.nanosPerToken = shape.refillPeriod().toNanos() / shape.refillTokens();
        this.tableCalls = new Combiner<>("sluice-limiter-permits", MAX_BATCH, this::sendSteps);
        this.bucketCalls = new Combiner<>("sluice-limiter-tokens", MAX_BATCH, this::reserveTokens);
        // Both topics carry control messages, sealed under cluster.secret and checked on receipt (ControlMessages).
        this.wakeTopic = member.controlTopic(WAKE_TOPIC);
        this.wakeRegistration = wakeTopic.subscribe(ids -> {
            for (String id : ids.split(",")) {
                Semaphore waiter = waiters.get(id);
                if (waiter != null) {
                    waiter.release();
                }
            }
        });
        this.pauseTopic = member.controlTopic(PAUSE_TOPIC);
        this.pauseRegistration = pauseTopic.subscribe(pauseMs -> pauseLocally(heardPause(pauseMs)));
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-limiter-watch")
                .daemon().unstarted(r));
        watcher.scheduleWithFixedDelay(this::watch, settings.probeEvery().toMillis(), settings.probeEvery().toMillis(),
                TimeUnit.MILLISECONDS);
        log.info("fleet Hub limits: {} in flight (leases of {} ms), {} per second as a bucket of {} refilled {} per {} ms; "
                        + "on store failure: {}", settings.maxInFlight(), settings.lease().toMillis(), settings.maxPerSecond(),
                shape.capacity(), shape.refillTokens(), shape.refillPeriod().toMillis(), settings.onStoreFailure());
    }

    /**
     * Decides from now on who may take new capacity and when held capacity may still be sent: a worker node passes
     * its {@link dev.sluice.worker.limits.grant.GrantorLease}. Until then (and for a store used without Redis) the
     * {@link MajorityRule} applies.
     */
    public void decideGrantsBy(GrantRight right) {
        this.grants = right;
    }

    /** Why this fleet cannot be trusted for the protocol it speaks, or null when every member speaks this node's. */
    private String protocolMismatch() {
        try {
            for (com.hazelcast.cluster.Member m : member.hazelcast().getCluster().getMembers()) {
                String spoken = m.getAttribute(PROTOCOL_ATTRIBUTE);
                if (!PROTOCOL.equals(spoken)) {
                    return "cluster member " + m.getAddress() + " (node " + ClusterMember.nodeIdOf(m) + ") speaks limiter "
                            + "protocol " + (spoken == null ? "1" : spoken) + ", this node " + PROTOCOL + ": old and new "
                            + "limiter protocols cannot share a fleet (they disagree on who may grant); upgrade or stop it";
                }
            }
        } catch (RuntimeException e) {
            return null; // not running any more
        }
        return null;
    }

    /**
     * True once this node may take new capacity; false when the deadline came first while it waited for a wait that
     * ends by itself (a start, a quiet time); a StoreFailure when it may not for another reason, saying why.
     */
    private boolean awaitGrantRight(long deadline) throws StoreFailure, InterruptedException {
        while (true) {
            long now = System.nanoTime();
            if (grants.mayGrant(now)) {
                return true;
            }
            if (!grants.waiting(now)) {
                throw new StoreFailure(grants.whyNot(now), null);
            }
            if (deadline - now <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.sleep(Math.min(TimeUnit.MILLISECONDS.toNanos(50), deadline - now));
        }
    }

    /** Whether this node may take new capacity from the store now: it holds or sees the grant right and is not degraded. */
    public boolean granting() {
        return degraded == null && grants.mayGrant(System.nanoTime());
    }

    /** "yes" when this node may take new capacity now, else why not. */
    private String whyNotGrant() {
        String why = grants.whyNot(System.nanoTime());
        return why.isEmpty() ? "yes" : why;
    }

    /** Requests held back right before their first byte because this node's side may no longer send, since start. */
    public long fencedSends() {
        return fencedSends.sum();
    }

    public void addListener(LimiterListener listener) {
        listeners.add(listener);
    }

    @Override
    public Permit acquire(Duration maxWait) throws InterruptedException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        while (true) {
            Degraded d = degraded;
            if (d != null) {
                Permit p = fallback(d, deadline);
                if (p != null || degraded != null || System.nanoTime() >= deadline) {
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

    private Permit fallback(Degraded d, long deadline) throws InterruptedException {
        switch (settings.onStoreFailure()) {
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

    private Permit fleetAcquire(long deadline) throws StoreFailure, InterruptedException {
        if (!awaitGrantRight(deadline)) {
            return null;
        }
        if (!gate.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            return null;
        }
        String id = nodeId + "/" + sequence.incrementAndGet();
        boolean handedOut = false;
        try {
            Long leaseFrom = takePermit(id, deadline);
            if (leaseFrom == null) {
                return null;
            }
            try {
                FleetPermit permit = new FleetPermit(id, leaseFrom);
                if (permit.takeToken(deadline)) {
                    handedOut = true;
                    permit.handOut();
                    return permit;
                }
                return null;
            } finally {
                if (!handedOut) {
                    releaseAsync(id);
                }
            }
        } finally {
            if (!handedOut) {
                gate.release();
            }
        }
    }

    /**
     * Takes a permit: returns the moment (this node's {@link System#nanoTime()}) its granting call was asked, which its
     * lease runs from at the earliest, or null when none came before the deadline.
     */
    private Long takePermit(String id, long deadline) throws StoreFailure, InterruptedException {
        Semaphore wake = new Semaphore(0);
        waiters.put(id, wake);
        boolean queued = false;
        try {
            while (true) {
                wake.drainPermits(); // a wake-up that comes while the table is asked counts for the next wait
                long asked = System.nanoTime();
                PermitTable.Reply reply = PermitTable.Reply.fromWire(answer(tableCalls.submit(
                        new PermitProcessor.Step(PermitProcessor.Op.ACQUIRE, id, settings.lease().toMillis()))));
                long left = deadline - System.nanoTime();
                switch (reply.state()) {
                    case GRANTED -> {
                        return asked;
                    }
                    case PAUSED -> {
                        long pause = TimeUnit.MILLISECONDS.toNanos(reply.millis());
                        if (pause >= left) {
                            cancel(id, queued);
                            return null;
                        }
                        TimeUnit.NANOSECONDS.sleep(pause);
                    }
                    default -> {
                        queued = true;
                        if (left <= 0) {
                            cancel(id, true);
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
            cancelQuietly(id);
            releaseAsync(id);
            throw e;
        } finally {
            waiters.remove(id);
        }
    }

    private void cancel(String id, boolean queued) {
        if (queued) {
            cancelQuietly(id);
        }
    }

    private void cancelQuietly(String id) {
        tableCalls.submit(new PermitProcessor.Step(PermitProcessor.Op.CANCEL, id, 0)).whenComplete((ignored, failure) -> {
            if (failure != null) {
                log.debug("could not withdraw permit ticket {}; it expires on its own", id, failure);
            }
        });
    }

    private static void sleepOutPause(long pauseNanos, long deadline) throws InterruptedException {
        TimeUnit.NANOSECONDS.sleep(Math.min(pauseNanos, Math.max(0, deadline - System.nanoTime())));
    }

    /**
     * When a holder's reserved token is due: at {@code waitNanos} after a moment between {@code askedAt} and
     * {@code answeredAt} (its store call's send and answer, by this node's clock).
     */
    private record TokenTime(long askedAt, long answeredAt, long waitNanos) {
        /** No token could be had before the holder's deadline. */
        static final TokenTime NONE_IN_TIME = new TokenTime(0, 0, -1);
        /** Tokens went to holders with earlier deadlines in this call: ask again. */
        static final TokenTime RETRY = new TokenTime(0, 0, -2);
    }

    /**
     * Reserves one token for each waiting holder in one bucket call (the Bucket4j blocking consume of them all,
     * through a strategy that does not park). Token {@code i} of {@code k} is due {@code (k - 1 - i)} token
     * periods before the last one (the refill is greedy and continuous), or at once; the holders with the nearest
     * deadlines get the earliest tokens. When {@code k} tokens cannot all come before the latest deadline, fewer
     * are reserved and the others ask again.
     */
    private List<TokenTime> reserveTokens(List<Long> deadlines) throws StoreFailure {
        int n = deadlines.size();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Long.compare(deadlines.get(x), deadlines.get(y)));
        TokenTime[] answers = new TokenTime[n];
        java.util.Arrays.fill(answers, TokenTime.NONE_IN_TIME);
        long maxWait = deadlines.get(order[n - 1]) - System.nanoTime();
        for (int k = n; k >= 1 && maxWait > 0; k /= 2) {
            long askedAt = System.nanoTime();
            Slot slot = new Slot();
            boolean reserved;
            try {
                reserved = bucket.asBlocking().tryConsume(k, maxWait, slot); // reserves; Slot does not park
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreFailure("interrupted while reserving rate tokens", e);
            } catch (RuntimeException e) {
                throw new StoreFailure("the fleet rate bucket failed: " + e, e);
            }
            if (!reserved) {
                continue;
            }
            long answeredAt = slot.waitNanos > 0 ? slot.answeredAt : System.nanoTime();
            for (int i = 0; i < n; i++) {
                long due = Math.max(0, slot.waitNanos - (long) (k - 1 - i) * nanosPerToken);
                answers[order[i]] = i < k ? new TokenTime(askedAt, answeredAt, due) : TokenTime.RETRY;
            }
            break;
        }
        return java.util.Arrays.asList(answers);
    }

    /** One permit-table call for the steps of this node's waiters; wakes the waiters whose turn came. */
    private List<long[]> sendSteps(List<PermitProcessor.Step> steps) throws StoreFailure, InterruptedException {
        Object answer = call(PermitProcessor.batch(steps, nodeId, settings.maxInFlight(), settings.ticketTtl().toMillis()));
        PermitProcessor.BatchReply reply = (PermitProcessor.BatchReply) answer;
        if (reply.wake().length > 0) {
            wakeTopic.publish(String.join(",", reply.wake()));
        }
        List<long[]> out = new ArrayList<>(steps.size());
        for (int i = 0; i < steps.size(); i++) {
            out.add(reply.reply(i));
        }
        return out;
    }

    /** Waits for a combined call's answer: at most one call ahead of it and its own, each bounded by the store timeout. */
    private <A> A answer(CompletableFuture<A> answer) throws StoreFailure, InterruptedException {
        try {
            return answer.get(2 * settings.storeTimeout().toMillis() + 500, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof StoreFailure failure) {
                throw failure;
            }
            throw new StoreFailure("the fleet limiter's store call failed: " + cause, cause);
        } catch (TimeoutException e) {
            throw new StoreFailure("the fleet limiter's store call did not answer within "
                    + (2 * settings.storeTimeout().toMillis() + 500) + " ms", e);
        }
    }

    /** Takes Bucket4j's reservation without parking: the holder renews its lease first, then waits. */
    private static final class Slot implements BlockingStrategy {
        long waitNanos;
        long answeredAt;

        @Override
        public void park(long nanosToPark) {
            answeredAt = System.nanoTime();
            waitNanos = nanosToPark;
        }
    }

    private Object call(PermitProcessor processor) throws StoreFailure, InterruptedException {
        return await(submit(processor));
    }

    private CompletableFuture<Object> submit(PermitProcessor processor) throws StoreFailure {
        try {
            return permits.submitToKey(KEY, processor).toCompletableFuture();
        } catch (RuntimeException e) {
            throw new StoreFailure("the fleet permit table failed: " + e, e);
        }
    }

    private Object await(CompletableFuture<Object> answer) throws StoreFailure, InterruptedException {
        try {
            return answer.get(settings.storeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new StoreFailure("the fleet permit table failed: " + cause, cause);
        } catch (TimeoutException e) {
            throw new StoreFailure("the fleet permit table did not answer within " + settings.storeTimeout().toMillis()
                    + " ms", e);
        } catch (RuntimeException e) {
            throw new StoreFailure("the fleet permit table failed: " + e, e);
        }
    }

    private void releaseAsync(String id) {
        tableCalls.submit(new PermitProcessor.Step(PermitProcessor.Op.RELEASE, id, 0)).whenComplete((ignored, failure) -> {
            if (failure != null) {
                releaseFailures.increment();
                log.debug("releasing permit {} failed; its lease ends it", id, failure);
            }
        });
    }

    /** One fleet permit; {@link #takeToken} gives it its rate token before it is handed out, and again if needed. */
    private final class FleetPermit implements Permit {
        private final String id;
        private final AtomicBoolean done = new AtomicBoolean();
        /** This node's nanoTime from which the permit's lease runs at the earliest (when its grant or renewal was asked). */
        private long leaseFrom;
        /** The latest nanoTime at which the request may leave on its token. */
        private volatile long sendBy;

        FleetPermit(String id, long leaseFrom) {
            this.id = id;
            this.leaseFrom = leaseFrom;
        }

        void handOut() {
            heldHere.incrementAndGet();
        }

        /**
         * Takes a rate token and waits for its time; then the request may leave until {@link #sendBy}: the token's
         * earliest possible time plus the send budget. False when no token came before the deadline or the permit
         * was lost meanwhile.
         */
        boolean takeToken(long deadline) throws StoreFailure, InterruptedException {
            while (true) {
                if (deadline - System.nanoTime() <= 0) {
                    return false;
                }
                if (!awaitGrantRight(deadline)) {
                    return false;
                }
                TokenTime slot = answer(bucketCalls.submit(deadline));
                if (slot == TokenTime.NONE_IN_TIME) {
                    return false;
                }
                if (slot == TokenTime.RETRY) {
                    continue;
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
                if (latestSlot + sendBudgetNanos - leaseFrom > graceNanos / 2) {
                    renewal = tableCalls.submit(new PermitProcessor.Step(PermitProcessor.Op.RENEW, id,
                            settings.lease().toMillis() + TimeUnit.NANOSECONDS.toMillis(slot.waitNanos())));
                }
                long toSlot = latestSlot - System.nanoTime();
                if (toSlot > 0) {
                    BlockingStrategy.PARKING.park(toSlot);
                }
                if (renewal != null) {
                    PermitTable.Reply renewed = PermitTable.Reply.fromWire(answer(renewal));
                    if (renewed.state() == PermitTable.State.LOST) {
                        log.warn("permit {} ended while its holder waited for a rate token; giving the token up", id);
                        return false;
                    }
                    leaseFrom = renewalAsked + slot.waitNanos();
                    if (renewed.pauseMs() > 0) {
                        sleepOutPause(TimeUnit.MILLISECONDS.toNanos(renewed.pauseMs()), deadline);
                        continue; // the token goes unused
                    }
                } else {
                    skippedRenewals.increment();
                }
                long pause = localPauseUntil - System.nanoTime();
                if (pause > 0) {
                    sleepOutPause(pause, deadline);
                    continue; // a 429 elsewhere paused the fleet while this holder waited
                }
                // A request leaving much later than its token's time could crowd a later second: the token goes
                // unused instead.
                long late = System.nanoTime() - earliestSlot;
                if (late <= sendBudgetNanos) {
                    sendBy = earliestSlot + sendBudgetNanos;
                    return true;
                }
                lateTokens.increment();
                log.debug("rate token for permit {} came {} ms late; not using it", id, TimeUnit.NANOSECONDS.toMillis(late));
            }
        }

        @Override
        public boolean onTime() {
            long now = System.nanoTime();
            if (!grants.maySend(now)) {
                fencedSends.increment();
                return false;
            }
            if (now - sendBy <= 0) {
                return true;
            }
            lateTokens.increment();
            return false;
        }

        @Override
        public boolean renewToken(Duration maxWait) throws InterruptedException {
            try {
                return takeToken(System.nanoTime() + maxWait.toNanos());
            } catch (StoreFailure e) {
                degrade(e.getMessage());
                return false;
            }
        }

        @Override
        public void close() {
            if (done.compareAndSet(false, true)) {
                heldHere.decrementAndGet();
                gate.release();
                releaseAsync(id);
            }
        }

        @Override
        public void keepUntilLeaseEnd() {
            if (done.compareAndSet(false, true)) {
                heldHere.decrementAndGet();
                gate.release();
            }
        }
    }

    @Override
    public void pauseFor(Duration retryAfter) {
        Degraded d = degraded;
        if (d != null && d.localShare() != null) {
            d.localShare().pauseFor(retryAfter);
        }
        long pauseMs = Math.max(1, retryAfter.toMillis());
        pauseLocally(pauseMs);
        try {
            call(PermitProcessor.pause(pauseMs));
            pauseTopic.publish(Long.toString(pauseMs));
            log.info("Hub asked for a pause of {} ms; the whole fleet pauses", pauseMs);
        } catch (StoreFailure e) {
            degrade(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A pause another node announced, in ms; an IllegalArgumentException drops the message as malformed. */
    private static long heardPause(String payload) {
        long pauseMs = Long.parseLong(payload);
        if (pauseMs < 1 || pauseMs > MAX_HEARD_PAUSE_MS) {
            throw new IllegalArgumentException("a pause must be between 1 and " + MAX_HEARD_PAUSE_MS + " ms, but was "
                    + pauseMs);
        }
        return pauseMs;
    }

    /** How much longer this node holds its requests back for a pause it heard of or caused; zero when none. */
    Duration localPause() {
        return Duration.ofNanos(Math.max(0, localPauseUntil - System.nanoTime()));
    }

    /** Holders between their token and their request hear of a pause at once, without asking the store. */
    private void pauseLocally(long pauseMs) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pauseMs);
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

    private void watch() {
        if (closed) {
            return;
        }
        try {
            String untrusted = distrust;
            if (untrusted == null) {
                untrusted = protocolMismatch();
                if (untrusted != null && !untrusted.equals(reportedMismatch)) {
                    log.error("{}", untrusted);
                }
                reportedMismatch = untrusted;
            }
            if (untrusted != null) {
                degrade(untrusted);
                retitle(untrusted);
                return;
            }
            long now = System.nanoTime();
            String why = grants.whyNot(now);
            boolean waiting = !why.isEmpty() && grants.waiting(now);
            tellWaiting(waiting, why);
            boolean failing = !why.isEmpty() && !waiting;
            if (degraded == null) {
                if (failing) {
                    degrade(why);
                }
                return;
            }
            if (!failing) {
                call(PermitProcessor.probe());
                recover();
            }
        } catch (StoreFailure e) {
            log.debug("fleet limiter store still failing: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.warn("fleet limiter watch failed", e);
        }
    }

    /**
     * An untrusted store outranks whatever degraded the limiter first (a quiet time, a lease not yet seen): the reason
     * reported becomes it, so status and readiness name the member to remove.
     */
    private void tellWaiting(boolean now, String reason) {
        if (now == waitingReported) {
            return;
        }
        waitingReported = now;
        if (now) {
            log.info("fleet Hub limits: no new grants for a while: {}", reason);
        } else {
            log.info("fleet Hub limits: grants again");
        }
        for (LimiterListener l : listeners) {
            try {
                l.waiting(now, reason);
            } catch (RuntimeException e) {
                log.warn("a limiter listener failed", e);
            }
        }
    }

    private void retitle(String reason) {
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

    private void degrade(String reason) {
        synchronized (this) {
            if (degraded != null || closed) {
                return;
            }
            LocalHubLimiter localShare = null;
            if (settings.onStoreFailure() == OnStoreFailure.LOCAL_SHARE) {
                int fleet = member.lastKnownSize();
                localShare = new LocalHubLimiter(Math.max(1, settings.maxInFlight() / fleet),
                        Math.max(1, settings.maxPerSecond() / fleet));
            }
            degraded = new Degraded(reason, localShare);
            degradations.increment();
        }
        log.warn("fleet Hub limits degraded: {}; applying cluster.on_store_failure = {}", reason, settings.onStoreFailure());
        for (LimiterListener l : listeners) {
            try {
                l.degraded(reason);
            } catch (RuntimeException e) {
                log.warn("a limiter listener failed", e);
            }
        }
    }

    private void recover() {
        synchronized (this) {
            if (degraded == null) {
                return;
            }
            degraded = null;
        }
        log.info("fleet Hub limits recovered: the store answers under a majority again");
        for (LimiterListener l : listeners) {
            try {
                l.recovered();
            } catch (RuntimeException e) {
                log.warn("a limiter listener failed", e);
            }
        }
    }

    /** Whether the fallback policy applies now. */
    public boolean degraded() {
        return degraded != null;
    }

    /** Why the limiter is degraded, or null. */
    public String degradedReason() {
        Degraded d = degraded;
        return d == null ? null : d.reason();
    }

    /** Acquires decided by {@code cluster.on_store_failure} instead of the fleet store. */
    public long fallbacks() {
        return fallbacks.sum();
    }

    /** Episodes of degradation so far. */
    public long degradations() {
        return degradations.sum();
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
        return releaseFailures.sum();
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
     */
    public record Snapshot(int maxInFlight, int maxPerSecond, int heldHere, String degraded, String onStoreFailure,
                           long fallbacks, long lateTokens, long releaseFailures, Map<String, Leases> fleetLeases,
                           int fleetWaiting, long pausedUntil, String grantor, String mayGrant, long fencedSends) {
    }

    /** A holder's leases in the permit table. */
    public record Leases(int count, long lastEndsAt) {
    }

    /** The limiter's state with the permit table read from its owner (one store call). */
    public Snapshot snapshot() {
        Map<String, Leases> byHolder = null;
        int waiting = -1;
        long pausedUntil = -1;
        if (degraded == null) {
            try {
                PermitTable table = inspect();
                byHolder = new java.util.TreeMap<>();
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
        return new Snapshot(settings.maxInFlight(), settings.maxPerSecond(), heldHere.get(), degradedReason(),
                settings.onStoreFailure().toString(), fallbacks(), lateTokens(), releaseFailures(), byHolder, waiting,
                pausedUntil, grants.describe(), whyNotGrant(), fencedSends());
    }

    /** The permit table as its owner has it now (for tests and diagnostics). */
    PermitTable inspect() throws StoreFailure, InterruptedException {
        return PermitTable.decode((byte[]) call(PermitProcessor.inspect()));
    }

    @Override
    public void close() {
        closed = true;
        watcher.shutdownNow();
        tableCalls.close();
        bucketCalls.close();
        try {
            wakeTopic.unsubscribe(wakeRegistration);
            pauseTopic.unsubscribe(pauseRegistration);
        } catch (RuntimeException e) {
            log.debug("could not remove the limiter's topic listeners", e);
        }
    }

    /** The store could not be used; the message says why. */
    static final class StoreFailure extends Exception {
        @Serial
        private static final long serialVersionUID = 1L;

        StoreFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
