package dev.sluice.worker.identity;

import dev.sluice.worker.pool.RedisCalls;
import dev.sluice.worker.pool.RedisConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The node's liveness record in Redis: one per node id, held by one incarnation (one process) at a time, so two
 * live processes never work under one id (they would share a consumer name, a processing list and fleet leases).
 *
 * <p>The record ({@code sluice:node:<id>}, a hash of {@code incarnation}, {@code seq} and {@code lease_ms}) is
 * renewed every third of the lease by raising {@code seq}. Nothing compares clocks or trusts key expiry: whoever
 * judges a record watches {@code seq} on its own monotonic clock for a full lease ({@link RecordWatch}). A starting
 * node that finds the record held by another incarnation does so: if it moved, another process is alive under this
 * id and this one refuses to start; if it stood still, the holder is gone and this one takes the record over, in one
 * compare-and-set on the incarnation and {@code seq} it watched. List mode judges the other nodes the same way
 * before it moves their in-flight jobs back to the queue. A holder that finds at a renewal that the record is no
 * longer its own has been taken over (it stood still for a lease: a pause, a partition) and stops taking work. A
 * graceful stop deletes the record, so a restart need not wait. The key's expiry (ten leases) only collects records
 * of nodes that never come back.
 */
public final class NodeRecord {
    private static final Logger log = LoggerFactory.getLogger(NodeRecord.class);

    /** KEYS: record. ARGV: incarnation, expected incarnation ('' for none), expected seq, ttl ms, lease ms. */
    private static final String CLAIM = """
            local cur = redis.call('HMGET', KEYS[1], 'incarnation', 'seq')
            if ARGV[2] == '' then
              if cur[1] then return 0 end
            elseif cur[1] ~= ARGV[2] or cur[2] ~= ARGV[3] then
              return 0
            end
            redis.call('HSET', KEYS[1], 'incarnation', ARGV[1], 'seq', '0', 'lease_ms', ARGV[5])
            redis.call('PEXPIRE', KEYS[1], ARGV[4])
            return 1
            """;

    /**
     * KEYS: record. ARGV: incarnation, ttl ms, lease ms. 1 renewed, 2 written again (Redis had lost it: a restart
     * without persistence), 0 another incarnation holds it.
     */
    private static final String RENEW = """
            local holder = redis.call('HGET', KEYS[1], 'incarnation')
            if not holder then
              redis.call('HSET', KEYS[1], 'incarnation', ARGV[1], 'seq', '0', 'lease_ms', ARGV[3])
              redis.call('PEXPIRE', KEYS[1], ARGV[2])
              return 2
            end
            if holder ~= ARGV[1] then return 0 end
            redis.call('HINCRBY', KEYS[1], 'seq', 1)
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return 1
            """;

    /** KEYS: record. ARGV: incarnation. */
    private static final String RELEASE = """
            if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
            return redis.call('DEL', KEYS[1])
            """;

    /** Another live process holds this node id. */
    public static final class NodeIdInUse extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NodeIdInUse(String message) {
            super(message);
        }
    }

    private static final String[] FIELDS = {"incarnation", "seq", "lease_ms"};

    private final RedisConnections redis;
    private final RedisCalls own;
    private final String nodeId;
    private final String key;
    private final String incarnation = UUID.randomUUID().toString();
    private final Duration lease;
    private final LongSupplier nanoTime;
    private final List<Runnable> lostListeners = new CopyOnWriteArrayList<>();
    private volatile boolean held;
    private volatile boolean lost;

    public NodeRecord(RedisConnections redis, String nodeId, Duration lease) {
        this(redis, redis, nodeId, lease, System::nanoTime);
    }

    /**
     * @param own   where this node's own record is claimed, renewed and released (the leases' own connection, so a
     *              renewal never waits behind the pool)
     * @param redis where other nodes' records are watched
     */
    public NodeRecord(RedisConnections redis, RedisCalls own, String nodeId, Duration lease) {
        this(redis, own, nodeId, lease, System::nanoTime);
    }

    NodeRecord(RedisConnections redis, String nodeId, Duration lease, LongSupplier nanoTime) {
        this(redis, redis, nodeId, lease, nanoTime);
    }

    private NodeRecord(RedisConnections redis, RedisCalls own, String nodeId, Duration lease, LongSupplier nanoTime) {
        this.redis = redis;
        this.own = own;
        this.nodeId = nodeId;
        this.key = key(nodeId);
        this.lease = lease;
        this.nanoTime = nanoTime;
    }

    /** The Redis key of {@code nodeId}'s record. */
    public static String key(String nodeId) {
        return "sluice:node:" + nodeId;
    }

    /** Queues a read of {@code nodeId}'s record on {@code pipeline}; what it read, once the pipeline is synced. */
    public static Supplier<RecordWatch.Reading> read(Pipeline pipeline, String nodeId) {
        Response<List<String>> fields = pipeline.hmget(key(nodeId), FIELDS);
        return () -> reading(fields.get());
    }

    private static RecordWatch.Reading reading(List<String> fields) {
        return fields.getFirst() == null ? RecordWatch.Reading.NONE
                : new RecordWatch.Reading(fields.get(0), fields.get(1), fields.get(2));
    }

    private RecordWatch.Reading read() {
        return reading(own.withJedis(j -> j.hmget(key, FIELDS)));
    }

    /** This process's incarnation: a random id, never repeated. */
    public String incarnation() {
        return incarnation;
    }

    /** How often {@link #renew()} should run. */
    public Duration renewEvery() {
        return lease.dividedBy(3);
    }

    /**
     * Takes the record for this incarnation: at once when there is none; after watching it stand still for a full
     * lease when another incarnation holds it. Redis errors (refused writes included) are thrown for the caller to
     * retry.
     *
     * @throws NodeIdInUse when another incarnation keeps renewing it
     */
    public void claim() throws InterruptedException {
        while (true) {
            RecordWatch.Reading holder = read();
            if (holder.absent()) {
                if (cas("", "")) {
                    held = true;
                    return;
                }
                continue;
            }
            if (holder.incarnation().equals(incarnation)) {
                held = true;
                return;
            }
            RecordWatch watch = new RecordWatch(lease, nanoTime);
            watch.observe(nodeId, holder);
            log.warn("node id {} is held by incarnation {} in Redis; watching it for {} ms (a live holder renews it, a "
                    + "crashed one does not)", nodeId, holder.incarnation(), watch.leaseOf(nodeId).toMillis());
            RecordWatch.Verdict verdict;
            do {
                Thread.sleep(Math.min(250, Math.max(1, watch.remaining(nodeId).toMillis())));
                RecordWatch.Reading now = read();
                verdict = watch.observe(nodeId, now);
                if (verdict == RecordWatch.Verdict.MOVED) {
                    throw new NodeIdInUse("node id " + nodeId + " is in use by a live process (incarnation "
                            + now.incarnation() + " renewed its record " + key + " within "
                            + watch.leaseOf(nodeId).toMillis() + " ms); give every node its own node.id");
                }
            } while (verdict == RecordWatch.Verdict.STILL);
            if (verdict == RecordWatch.Verdict.STOOD_STILL
                    && cas(holder.incarnation(), holder.seq() == null ? "" : holder.seq())) {
                held = true;
                log.warn("node id {} taken over from incarnation {}, whose record stood still for {} ms (a crashed "
                        + "process)", nodeId, holder.incarnation(), watch.leaseOf(nodeId).toMillis());
                return;
            }
        }
    }

    private boolean cas(String expectedIncarnation, String expectedSeq) {
        Object ok = own.withJedis(j -> j.eval(CLAIM, List.of(key), List.of(incarnation, expectedIncarnation,
                expectedSeq, Long.toString(lease.toMillis() * 10), Long.toString(lease.toMillis()))));
        return Long.valueOf(1).equals(ok);
    }

    /** Renews the record; when it is no longer this incarnation's, says so once and tells the listeners. */
    public void renew() {
        if (!held || lost) {
            return;
        }
        Object ok = own.withJedis(j -> j.eval(RENEW, List.of(key), List.of(incarnation,
                Long.toString(lease.toMillis() * 10), Long.toString(lease.toMillis()))));
        if (Long.valueOf(2).equals(ok)) {
            log.warn("node {}'s record {} was missing from Redis (it lost its data?); written again", nodeId, key);
        } else if (!Long.valueOf(1).equals(ok)) {
            lost = true;
            log.error("node id {} was taken over by another process (this one's record {} stood still for a lease: "
                    + "a long pause or a cut from Redis); this node takes no new work", nodeId, key);
            lostListeners.forEach(Runnable::run);
        }
    }

    /**
     * Watches another node's record, by the {@link RecordWatch} rule: true when it is absent or stood still for a
     * full lease (the longer of this node's and the one the record states) on this process's monotonic clock (that
     * node is dead, or cut off from Redis and so from its work), false as soon as it moves.
     */
    public boolean standsStill(String otherNodeId) throws InterruptedException {
        RecordWatch watch = new RecordWatch(lease, nanoTime);
        String otherKey = key(otherNodeId);
        RecordWatch.Verdict verdict = watch.observe(otherNodeId, reading(redis.withJedis(j -> j.hmget(otherKey, FIELDS))));
        while (true) {
            if (verdict == RecordWatch.Verdict.ABSENT || verdict == RecordWatch.Verdict.STOOD_STILL) {
                return true;
            }
            Thread.sleep(Math.clamp(watch.remaining(otherNodeId).toMillis(), 1, 250));
            RecordWatch.Verdict next = watch.observe(otherNodeId, reading(redis.withJedis(j -> j.hmget(otherKey, FIELDS))));
            if (next == RecordWatch.Verdict.MOVED) {
                return false;
            }
            verdict = next;
        }
    }

    /** True once another incarnation took the record over. */
    public boolean lost() {
        return lost;
    }

    /** Told once when the record is found taken over. */
    public void onLost(Runnable listener) {
        lostListeners.add(listener);
    }

    /** Deletes the record if it is still this incarnation's (graceful stop). */
    public void release() {
        if (!held) {
            return;
        }
        held = false;
        try {
            own.withJedis(j -> j.eval(RELEASE, List.of(key), List.of(incarnation)));
        } catch (RuntimeException e) {
            log.debug("could not delete the node record {}", key, e);
        }
    }
}
