package dev.sluice.worker.limits.fleet;

import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.cluster.ControlTopic;
import io.github.bucket4j.BlockingStrategy;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.github.bucket4j.grid.hazelcast.Bucket4jHazelcast;
import io.github.bucket4j.grid.hazelcast.HazelcastEntryProcessor;
import io.github.bucket4j.grid.hazelcast.HazelcastProxyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * The fleet limiter's store port, on the embedded Hazelcast cluster: the permit table (one entry of
 * {@value #PERMITS_MAP}, changed only by {@link PermitProcessor}s) and the rate bucket (Bucket4j in
 * {@value #RATE_MAP}), each reached through a {@link Combiner} so that one node sends the requests of all its waiting
 * threads as one call at a time; and the two control topics (wake-ups of permit waiters, 429 pauses). Every failure
 * and every call slower than the store timeout is a {@link StoreFailure}. Who may use the store, and when, is not
 * decided here (see {@link Fencing}).
 */
final class FleetStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FleetStore.class);

    static final String PERMITS_MAP = "sluice-limits-permits";
    static final String RATE_MAP = "sluice-limits-rate";
    static final String WAKE_TOPIC = "sluice-limits-wake";
    static final String PAUSE_TOPIC = "sluice-limits-pause";
    static final String KEY = "hub";
    private static final int BUCKET4J_TYPE_ID_BASE = 10_000;
    /** Most waiter requests one store call carries. */
    private static final int MAX_BATCH = 1_024;

    /**
     * When a holder's reserved token is due: at {@code waitNanos} after a moment between {@code askedAt} and
     * {@code answeredAt} (its store call's send and answer, by this node's clock).
     */
    record TokenTime(long askedAt, long answeredAt, long waitNanos) {
        /** No token could be had before the holder's deadline. */
        static final TokenTime NONE_IN_TIME = new TokenTime(0, 0, -1);
        /** Tokens went to holders with earlier deadlines in this call: ask again. */
        static final TokenTime RETRY = new TokenTime(0, 0, -2);
    }

    private final FleetSettings settings;
    private final String nodeId;
    private final IMap<String, byte[]> permits;
    private final HazelcastProxyManager<String> buckets;
    /** The bucket as this node asks it: the fleet's one bucket, carrying the limits version this node pushes. */
    private volatile Bucket bucket;
    /** How far apart the tokens of one reservation are: the token period of the fastest rate the bucket may have. */
    private volatile long nanosPerToken;
    /** The limits version and in-flight limit this node's permit-table calls carry (the table keeps the newest). */
    private volatile long limitsVersion;
    private volatile int tableLimit;
    /** Whether this node's view of the fleet's limits is recent enough to time several tokens of one reservation. */
    private volatile BooleanSupplier limitsFresh = () -> true;
    private final Combiner<PermitProcessor.Step, long[]> tableCalls;
    private final Combiner<Long, TokenTime> bucketCalls;
    private final Map<String, Semaphore> waiters = new ConcurrentHashMap<>();
    private final ControlTopic wakeTopic;
    private final UUID wakeRegistration;
    private final ControlTopic pauseTopic;
    private final UUID pauseRegistration;
    private final LongAdder releaseFailures = new LongAdder();
    private final LongAdder tableCallCount = new LongAdder();
    private final LongAdder bucketCallCount = new LongAdder();
    private final LongAdder staleReservations = new LongAdder();
    private volatile TokenBuffer ahead;
    private volatile Demand demand = (holders, othersWaiting, free) -> { };

    /** Told of the permit table's demand after each batch (see {@link PermitProcessor.BatchReply}). */
    @FunctionalInterface
    interface Demand {
        void of(int holders, int othersWaiting, int free);
    }

    /**
     * Adds what the store keeps in the cluster to a member's {@link Config}: the maps (two synchronous backups), the
     * permit processors' factory and Bucket4j's serializers. Every member needs it.
     */
    static Config configure(Config config) {
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

    /** @param onPause told of every pause (ms) another node announced; malformed ones are dropped before */
    FleetStore(ClusterMember member, FleetSettings settings, RateShape shape, LongConsumer onPause) {
        this.settings = settings;
        this.nodeId = member.nodeId();
        HazelcastInstance hz = member.hazelcast();
        this.permits = hz.getMap(PERMITS_MAP);
        IMap<String, byte[]> rate = hz.getMap(RATE_MAP);
        this.buckets = Bucket4jHazelcast.entryProcessorBasedBuilder(rate).build();
        this.tableLimit = settings.maxInFlight();
        useBucket(0, shape);
        spaceTokens(shape);
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
        this.pauseRegistration = pauseTopic.subscribe(pauseMs -> onPause.accept(LocalPause.heard(pauseMs)));
    }

    /**
     * From now on this node's reservations carry limits {@code version} with {@code shape}: the fleet has one bucket,
     * and Bucket4j replaces its configuration when a request carries a newer version than the one it was made with
     * (tokens as they are); older versions are served by the newer configuration. Version 0 carries none: the bucket
     * keeps whatever configuration it has (a limiter that follows no fleet record, in tests).
     */
    void useBucket(long version, RateShape shape) {
        var builder = buckets.builder();
        if (version > 0) {
            builder = builder.withImplicitConfigurationReplacement(version, TokensInheritanceStrategy.AS_IS);
        }
        this.bucket = builder.build(KEY, shape::toBucketConfiguration);
    }

    /** Times the tokens of one reservation at {@code shape}'s token period, rounded down (never before their real time). */
    void spaceTokens(RateShape shape) {
        this.nanosPerToken = shape.refillPeriod().toNanos() / shape.refillTokens();
    }

    /** From now on this node's permit-table calls carry limits {@code version} and in-flight {@code limit}. */
    void tableLimits(long version, int limit) {
        this.tableLimit = limit;
        this.limitsVersion = version;
    }

    /**
     * How to tell whether this node's view of the fleet's limits is recent enough that the bucket cannot have a
     * faster configuration than it knows: until it is, each reservation takes one token, whose time is exact.
     */
    void judgeFreshnessBy(BooleanSupplier fresh) {
        this.limitsFresh = fresh;
    }

    /** Where tokens reserved ahead of this node's requests go, and how many it wants; none until set. */
    void reserveAheadInto(TokenBuffer buffer) {
        this.ahead = buffer;
    }

    void listenDemand(Demand listener) {
        this.demand = listener;
    }

    /** Calls to the store (the permit table and the rate bucket) since start. */
    long calls() {
        return tableCallCount.sum() + bucketCallCount.sum();
    }

    /** Reservations that took one token because this node's view of the fleet's limits was not fresh, since start. */
    long staleReservations() {
        return staleReservations.sum();
    }

    /** Calls to the permit table since start. */
    long tableCalls() {
        return tableCallCount.sum();
    }

    /**
     * Starts the lease of each permit in {@code ids} again for {@code leaseMs}, in one store call; the replies in
     * order (RENEWED, or LOST when the table no longer has it).
     */
    List<PermitTable.Reply> renewAll(List<String> ids, long leaseMs) throws StoreFailure, InterruptedException {
        List<PermitProcessor.Step> steps = new ArrayList<>(ids.size());
        for (String id : ids) {
            steps.add(new PermitProcessor.Step(PermitProcessor.Op.RENEW, id, leaseMs));
        }
        List<long[]> wire = sendSteps(steps);
        List<PermitTable.Reply> out = new ArrayList<>(wire.size());
        for (long[] w : wire) {
            out.add(PermitTable.Reply.fromWire(w));
        }
        return out;
    }

    /** Queues one step of the permit table for this node's next combined call. */
    CompletableFuture<long[]> step(PermitProcessor.Op op, String id, long millis) {
        return tableCalls.submit(new PermitProcessor.Step(op, id, millis));
    }

    /** Queues a token reservation for a holder that must have it before {@code deadline} (this node's nanoTime). */
    CompletableFuture<TokenTime> token(long deadline) {
        return bucketCalls.submit(deadline);
    }

    /** A semaphore released whenever the permit table says waiter {@code id}'s turn came; until {@link #forget}. */
    Semaphore wakeUpsOf(String id) {
        Semaphore wake = new Semaphore(0);
        waiters.put(id, wake);
        return wake;
    }

    void forget(String id) {
        waiters.remove(id);
    }

    /** Withdraws waiter {@code id}'s ticket, in the background; an unused ticket expires anyway. */
    void cancelQuietly(String id) {
        step(PermitProcessor.Op.CANCEL, id, 0).whenComplete((ignored, failure) -> {
            if (failure != null) {
                log.debug("could not withdraw permit ticket {}; it expires on its own", id, failure);
            }
        });
    }

    /** Gives permit {@code id} back, in the background; its lease ends it if that fails. */
    void releaseAsync(String id) {
        step(PermitProcessor.Op.RELEASE, id, 0).whenComplete((ignored, failure) -> {
            if (failure != null) {
                releaseFailures.increment();
                log.debug("releasing permit {} failed; its lease ends it", id, failure);
            }
        });
    }

    /** Releases that did not reach the store (their leases ended those permits). */
    long releaseFailures() {
        return releaseFailures.sum();
    }

    /** Sets the fleet's 429 pause in the permit table and tells every member. */
    void pause(long pauseMs) throws StoreFailure, InterruptedException {
        call(PermitProcessor.pause(pauseMs));
        pauseTopic.publish(Long.toString(pauseMs));
    }

    /** One store call that changes nothing: does the permit table answer? */
    void probe() throws StoreFailure, InterruptedException {
        call(PermitProcessor.probe());
    }

    /** The permit table as its owner has it now. */
    PermitTable inspect() throws StoreFailure, InterruptedException {
        return PermitTable.decode((byte[]) call(PermitProcessor.inspect()));
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
        Arrays.sort(order, (x, y) -> Long.compare(deadlines.get(x), deadlines.get(y)));
        TokenTime[] answers = new TokenTime[n];
        Arrays.fill(answers, TokenTime.NONE_IN_TIME);
        TokenBuffer buffer = ahead;
        // A node whose view of the limits may be behind the bucket's (a raise it has not heard of) could time the
        // tokens of a batch too early: it takes one at a time, whose time Bucket4j gives exactly.
        boolean fresh = limitsFresh.getAsBoolean();
        if (!fresh) {
            staleReservations.increment();
        }
        int extra = buffer == null || !fresh ? 0 : buffer.wanted(n);
        long maxWait = deadlines.get(order[n - 1]) - System.nanoTime();
        long spacing = nanosPerToken;
        for (int k = fresh ? n + extra : 1; k >= 1 && maxWait > 0; k = k > n ? n : k / 2) {
            long askedAt = System.nanoTime();
            Slot slot = new Slot();
            boolean reserved;
            bucketCallCount.increment();
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
            if (k > 1 && !limitsFresh.getAsBoolean()) {
                // The view aged during the call: only the last token's time is sure; the others stay unused.
                answers[order[0]] = new TokenTime(askedAt, answeredAt, slot.waitNanos);
                for (int i = 1; i < n; i++) {
                    answers[order[i]] = TokenTime.RETRY;
                }
                break;
            }
            List<TokenTime> spare = new ArrayList<>(Math.max(0, k - n));
            for (int i = 0; i < k; i++) {
                long due = Math.max(0, slot.waitNanos - (long) (k - 1 - i) * spacing);
                TokenTime t = new TokenTime(askedAt, answeredAt, due);
                if (i < n) {
                    answers[order[i]] = t;
                } else {
                    spare.add(t);
                }
            }
            for (int i = k; i < n; i++) {
                answers[order[i]] = TokenTime.RETRY;
            }
            if (!spare.isEmpty()) {
                buffer.add(spare);
            }
            break;
        }
        return Arrays.asList(answers);
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

    /** One permit-table call for the steps of this node's waiters; wakes the waiters whose turn came. */
    private List<long[]> sendSteps(List<PermitProcessor.Step> steps) throws StoreFailure, InterruptedException {
        Object answer = call(PermitProcessor.batch(steps, nodeId, limitsVersion, tableLimit, settings.ticketTtl().toMillis()));
        PermitProcessor.BatchReply reply = (PermitProcessor.BatchReply) answer;
        demand.of(reply.holders(), reply.othersWaiting(), reply.free());
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
    <A> A answer(CompletableFuture<A> answer) throws StoreFailure, InterruptedException {
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

    private Object call(PermitProcessor processor) throws StoreFailure, InterruptedException {
        tableCallCount.increment();
        CompletableFuture<Object> answer;
        try {
            answer = permits.submitToKey(KEY, processor).toCompletableFuture();
        } catch (RuntimeException e) {
            throw new StoreFailure("the fleet permit table failed: " + e, e);
        }
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

    @Override
    public void close() {
        tableCalls.close();
        bucketCalls.close();
        try {
            wakeTopic.unsubscribe(wakeRegistration);
            pauseTopic.unsubscribe(pauseRegistration);
        } catch (RuntimeException e) {
            log.debug("could not remove the limiter's topic listeners", e);
        }
    }

    /**
     * Takes a permit: returns the moment (this node's {@link System#nanoTime()}) its granting call was asked, which its
     * lease runs from at the earliest, or null when none came before the deadline. A waiter queues a ticket and asks
     * again when woken, when the table hints its turn may have come, and at least every {@code pollNanos}.
     */
    Long takePermit(String id, long leaseMs, long pollNanos, long deadline) throws StoreFailure, InterruptedException {
        Semaphore wake = wakeUpsOf(id);
        boolean queued = false;
        try {
            while (true) {
                wake.drainPermits(); // a wake-up that comes while the table is asked counts for the next wait
                long asked = System.nanoTime();
                PermitTable.Reply reply = PermitTable.Reply.fromWire(answer(
                        step(PermitProcessor.Op.ACQUIRE, id, leaseMs)));
                long left = deadline - System.nanoTime();
                switch (reply.state()) {
                    case GRANTED -> {
                        return asked;
                    }
                    case PAUSED -> {
                        long pause = TimeUnit.MILLISECONDS.toNanos(reply.millis());
                        if (pause >= left) {
                            if (queued) {
                                cancelQuietly(id);
                            }
                            return null;
                        }
                        TimeUnit.NANOSECONDS.sleep(pause);
                    }
                    default -> {
                        queued = true;
                        if (left <= 0) {
                            cancelQuietly(id);
                            return null;
                        }
                        long hint = reply.millis() > 0 ? TimeUnit.MILLISECONDS.toNanos(reply.millis()) : Long.MAX_VALUE;
                        long wait = Math.min(Math.min(pollNanos, hint), left);
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
            forget(id);
        }
    }
}
