package dev.sluice.worker.queue.list;

import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.worker.queue.Enqueued;
import dev.sluice.worker.queue.QueueStats;
import dev.sluice.worker.queue.Refused;
import dev.sluice.worker.queue.redis.RedisJobQueue;
import dev.sluice.worker.queue.redis.DeadLetters;
import dev.sluice.worker.queue.redis.RawEntries;
import dev.sluice.worker.queue.redis.Replies;
import dev.sluice.worker.queue.redis.Scripts;
import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.job.Job;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.pool.BoundedReplyConnection;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.pool.RedisRefusal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * List mode, for producers that {@code LPUSH} onto {@code queue.list} (a JSON job or a bare key per element).
 *
 * <p>Each fetch moves elements atomically from the right end of the list to this node's processing list
 * {@code <list>:processing:<node>} (LMOVE, or BLMOVE when blocking); acknowledgement removes them from it. A node
 * announces itself in {@code <list>:nodes}; whether it lives is told by its liveness record ({@link NodeRecord},
 * {@code sluice:node:<id>}: one per node incarnation, kept in both queue modes, that a starting node's claim on its
 * id goes by too), judged by a {@link RecordWatch} on this process's monotonic clock: a node whose record has not
 * moved for a full lease, or is gone, is dead, never one whose key merely expired. Any survivor then moves its
 * processing list back to the queue, in one script that first checks the record is still as it was judged (so a
 * node that renewed meanwhile keeps its jobs), counting a redelivery per element in {@code <list>:deliveries}, so a
 * delivery's count tells the worker when a job keeps killing its workers. How long a node holds a job has no part
 * in it: a live node keeps its jobs however long they run.
 */
public final class ListJobQueue extends RedisJobQueue {
    private static final Logger log = LoggerFactory.getLogger(ListJobQueue.class);

    private final String processing;
    private final String registry;
    private final String deliveries;
    // Read and written on the fetcher thread only, by reclaim().
    private final RecordWatch others;
    private final LongAdder buried = new LongAdder();
    private static final byte[] LIST_DEAD = Scripts.LIST_DEAD.getBytes(StandardCharsets.UTF_8);
    private static final byte[] LIST_BURY = Scripts.LIST_BURY.getBytes(StandardCharsets.UTF_8);

    /**
     * @param others  judges the other nodes' records (this node's {@code node.lease_ms}, its monotonic clock); used
     *                by {@link #reclaim} only
     */
    public ListJobQueue(QueueConfig config, String nodeId, RedisConnections redis, Clock clock, RecordWatch others) {
        super(config, nodeId, redis, clock, config.list(), Scripts.LIST_PROMOTE);
        this.others = others;
        this.processing = processingList(nodeId);
        this.registry = config.list() + ":nodes";
        this.deliveries = config.list() + ":deliveries";
    }

    private String processingList(String node) {
        return config.list() + ":processing:" + node;
    }

    @Override
    public String mode() {
        return "list";
    }

    /** Registers this node in {@code <list>:nodes}, where survivors look for dead nodes' processing lists. */
    @Override
    public void start() {
        register();
    }

    private void register() {
        redis.withJedis(j -> j.sadd(registry, nodeId));
    }

    /**
     * Moves up to {@code max} elements to the processing list in one pipeline (LMOVE each), or waits up to
     * {@code block} for one (BLMOVE), on the fetcher's bounded connection: an element larger than
     * {@code queue.max_job_bytes} is streamed past, never held whole, and is dead-lettered at once by its position in
     * the processing list (its value never leaves Redis); one that is not UTF-8 arrives malformed with its exact
     * bytes.
     */
    @Override
    public List<Delivery> fetch(int max, Duration block) {
        Jedis j = fetcher.get(block);
        List<Object> moved = new ArrayList<>();
        try {
            Pipeline p = j.pipelined();
            List<Response<Object>> replies = new ArrayList<>(max);
            for (int i = 0; i < max; i++) {
                replies.add(p.sendCommand(Protocol.Command.LMOVE, config.list(), processing, "RIGHT", "LEFT"));
            }
            p.sync();
            // Every reply is read: an element moved before a refusal (Redis filled up mid-pipeline) is still ours
            // to run, and must not be left on the processing list unseen.
            JedisDataException refused = null;
            for (Response<Object> r : replies) {
                try {
                    Object e = r.get();
                    if (e != null) {
                        moved.add(e);
                    }
                } catch (JedisDataException e) {
                    refused = refused == null ? e : refused;
                }
            }
            replies.clear(); // each element is held once, by moved, until it becomes a delivery
            if (refused != null) {
                RedisRefusal refusal = redis.refusals().refused("fetch", refused);
                if (moved.isEmpty()) {
                    throw refusal;
                }
                return deliveries(j, moved);
            }
            if (moved.isEmpty()) {
                Object e = j.sendBlockingCommand(Protocol.Command.BLMOVE, config.list(), processing, "RIGHT", "LEFT",
                        Double.toString(block.toMillis() / 1000.0));
                if (e != null) {
                    moved.add(e);
                }
            }
            return deliveries(j, moved);
        } catch (JedisDataException e) {
            throw redis.refusals().refused("fetch", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
    }

    /** The moved elements, oldest first; those too large are dead-lettered where they lie. */
    private List<Delivery> deliveries(Jedis j, List<Object> moved) {
        List<Delivery> out = new ArrayList<>(moved.size());
        List<Object> readable = new ArrayList<>(moved.size());
        for (int i = 0; i < moved.size(); i++) {
            Object e = moved.get(i);
            if (e instanceof BoundedReplyConnection.OversizedBulk) {
                // Pushed at the head: the i-th of n moved lies at index n - 1 - i; burying it moves only older ones.
                int index = moved.size() - 1 - i;
                bury(j, RawEntries.listElement(e, 1, codec, config.maxJobBytes()), index);
            } else {
                readable.add(e);
            }
        }
        moved.clear();
        if (readable.isEmpty()) {
            return out;
        }
        String[] hashes = new String[readable.size()];
        for (int i = 0; i < readable.size(); i++) {
            hashes[i] = sha1((byte[]) readable.get(i));
        }
        List<String> redelivered;
        try {
            redelivered = j.hmget(deliveries, hashes);
        } catch (RuntimeException e) {
            // The elements are on this node's processing list already: run them, counted as first deliveries.
            log.warn("reading the redelivery counts of {} element(s) failed ({}); counting them as first deliveries",
                    readable.size(), e.toString());
            redelivered = java.util.Collections.nCopies(readable.size(), null);
        }
        for (int i = 0; i < readable.size(); i++) {
            String n = redelivered.get(i);
            out.add(RawEntries.listElement(readable.get(i), 1 + (n == null ? 0 : Long.parseLong(n)), codec,
                    config.maxJobBytes()));
            RawEntries.release(readable, i);
        }
        return out;
    }

    /**
     * Moves what this node id left on its processing list back to the queue, counting a redelivery for each: called
     * once the node holds its id (see {@link dev.sluice.worker.identity.NodeRecord}), so no other live process works
     * on it, and what is there was left by a crashed incarnation.
     */
    @Override
    public int recoverOwnLeftovers() {
        Object moved = redis.withJedis(j -> j.eval(Scripts.LIST_RECOVER_NOW,
                List.of(processing, config.list(), deliveries, registry), List.of(nodeId)));
        int n = ((Long) moved).intValue();
        if (n > 0) {
            log.info("moved {} job(s) an earlier process of node {} left in flight back to the queue", n, nodeId);
        }
        register();
        return n;
    }

    private void bury(Jedis j, Delivery d, int index) {
        List<byte[]> args = new ArrayList<>(DeadLetters.utf8(Integer.toString(index), "sluice:tombstone:" + UUID.randomUUID(),
                Long.toString(DeadLetters.retentionMs(config.deadLetterRetentionDays()))));
        args.addAll(DeadLetters.fields(new Completion.DeadLetter(d, ErrorKind.BAD_JOB, d.parseError().getMessage(), 0),
                nodeId, mode(), clock));
        j.eval(LIST_BURY, DeadLetters.utf8(processing, config.deadLetter()), args);
        buried.increment();
        log.info("dead-lettered an element of {} without reading it: {}", config.list(), d.parseError().getMessage());
    }

    /** Elements too large to read, dead-lettered where they lay, since start. */
    @Override
    public long buriedUnread() {
        return buried.sum();
    }

    /**
     * Reads the record of every other registered node (one pipeline) and moves back to the queue the processing
     * list of each whose record stood still for a lease or is gone. Returns none: recovered jobs go back to the
     * queue and are fetched like any other.
     */
    @Override
    public List<Delivery> reclaim(int max) {
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        try {
            List<String> nodes = new ArrayList<>(j.smembers(registry));
            nodes.remove(nodeId);
            others.retainOnly(nodes);
            if (nodes.isEmpty()) {
                return List.of();
            }
            Pipeline p = j.pipelined();
            List<Supplier<RecordWatch.Reading>> readings = new ArrayList<>(nodes.size());
            for (String node : nodes) {
                readings.add(NodeRecord.read(p, node));
            }
            p.sync();
            for (int i = 0; i < nodes.size(); i++) {
                String node = nodes.get(i);
                RecordWatch.Reading reading = readings.get(i).get();
                RecordWatch.Verdict verdict = others.observe(node, reading);
                if (verdict == RecordWatch.Verdict.STOOD_STILL || verdict == RecordWatch.Verdict.ABSENT) {
                    recoverFromDead(j, node, reading);
                }
            }
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        return List.of();
    }

    private void recoverFromDead(Jedis j, String node, RecordWatch.Reading judged) {
        String why = judged.absent() ? "its record " + NodeRecord.key(node) + " is gone"
                : "its record " + NodeRecord.key(node) + " stood still for " + others.leaseOf(node).toMillis() + " ms";
        long moved = (Long) j.eval(Scripts.LIST_RECOVER,
                List.of(processingList(node), config.list(), deliveries, registry, NodeRecord.key(node)),
                List.of(node, judged.absent() ? "" : judged.incarnation(),
                        judged.absent() || judged.seq() == null ? "" : judged.seq()));
        others.forget(node);
        if (moved < 0) {
            log.info("node {} was about to be judged dead ({}), but its record changed: it keeps its jobs", node, why);
        } else if (moved > 0) {
            log.info("moved {} job(s) left in flight by dead node {} back to the queue: {}", moved, node, why);
        }
    }

    @Override
    public List<Delivery> reclaimFrom(String deadNodeId, int max) {
        if (deadNodeId.equals(nodeId)) {
            return List.of();
        }
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        try {
            Object moved = j.eval(Scripts.LIST_RECOVER_NOW,
                    List.of(processingList(deadNodeId), config.list(), deliveries, registry), List.of(deadNodeId));
            if (((Long) moved) > 0) {
                log.info("moved {} job(s) left in flight by node {}, which left the cluster, back to the queue", moved,
                        deadNodeId);
            }
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        // They go back to the consuming end of the queue and are fetched next, like any other job.
        return List.of();
    }

    @Override
    public List<Refused> complete(List<Completion> batch) {
        return completeInPipeline(batch, (p, replies) -> {
            for (Completion c : batch) {
                String element = c.delivery().handle();
                List<Response<?>> its = switch (c) {
                    case Completion.Ack a when a.delivery().batch() != null -> List.of(p.eval(Scripts.LIST_ACK,
                            List.of(processing, deliveries, backfills.key(a.delivery().batch())), List.of(element)));
                    case Completion.Ack a -> a.delivery().deliveries() > 1
                            ? List.of(p.lrem(processing, -1, element), p.hdel(deliveries, sha1(element)))
                            : List.of(p.lrem(processing, -1, element));
                    case Completion.Retry r -> List.of(p.eval(Scripts.LIST_RETRY,
                            List.of(processing, deliveries, config.delayed()),
                            List.of(element, Long.toString(r.delayMs()), codec.toRetryJson(r.next(), java.util.concurrent.ThreadLocalRandom.current().nextLong()))));
                    case Completion.DeadLetter d -> {
                        // An element that is not UTF-8 is found and removed by its exact bytes.
                        byte[] exactElement = d.delivery().exact() != null ? d.delivery().exact().get(1)
                                : element.getBytes(StandardCharsets.UTF_8);
                        List<byte[]> args = new ArrayList<>(List.of(exactElement,
                                Long.toString(DeadLetters.retentionMs(config.deadLetterRetentionDays())).getBytes(StandardCharsets.UTF_8)));
                        args.addAll(DeadLetters.fields(d, nodeId, mode(), clock));
                        yield List.of(p.eval(LIST_DEAD, deadLetterKeys(d, processing, deliveries), args));
                    }
                    case Completion.HandBack h -> List.of(p.eval(Scripts.LIST_HAND_BACK, List.of(processing, config.list()),
                            List.of(element)));
                };
                replies.expect(c, Replies.command(c), its);
            }
        });
    }

    /**
     * Registers this node again: a node judged dead while it was only paused (its record stood still for a lease)
     * was taken off {@code <list>:nodes}, and must be found there should it die for good later. Its liveness is its
     * record's, renewed by the node; nothing here keeps a job.
     */
    @Override
    public void keepAlive(Collection<Delivery> inFlight) {
        register();
    }

    @Override
    public Enqueued enqueue(List<Job> jobs) {
        return enqueueRaw(jobs.stream().map(codec::toJson).toList());
    }

    @Override
    public Enqueued enqueueRaw(List<String> elements) {
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            List<Response<Long>> replies = new ArrayList<>(elements.size());
            for (String element : elements) {
                replies.add(p.lpush(config.list(), element));
            }
            p.sync();
            return Replies.enqueued(replies, "LPUSH", redis.refusals());
        });
    }

    @Override
    public QueueStats stats() {
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            Response<Long> waiting = p.llen(config.list());
            Response<Long> delayed = p.zcard(config.delayed());
            Response<Long> dead = p.xlen(config.deadLetter());
            Response<java.util.Set<String>> nodes = p.smembers(registry);
            p.sync();
            Map<String, Long> byConsumer = new TreeMap<>();
            long pending = 0;
            for (String node : nodes.get()) {
                long n = j.llen(processingList(node));
                byConsumer.put(node, n);
                pending += n;
            }
            return new QueueStats(mode(), waiting.get(), pending, delayed.get(), dead.get(),
                    waiting.get() == 0 ? 0 : -1, byConsumer);
        });
    }

    /** SHA-1 of the element's bytes, as Redis's {@code redis.sha1hex} computes it. */
    static String sha1(String element) {
        return sha1(element.getBytes(StandardCharsets.UTF_8));
    }

    /** SHA-1 of exact bytes, as Redis's {@code redis.sha1hex} computes it. */
    static String sha1(byte[] element) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(element));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required of every JVM", e);
        }
    }

    @Override
    public void close() {
        super.close();
        try {
            redis.withJedis(j -> {
                if (j.llen(processing) == 0) {
                    j.srem(registry, nodeId);
                }
                return null;
            });
        } catch (RuntimeException e) {
            log.debug("could not deregister node {} from {}", nodeId, registry, e);
        }
    }
}
