package dev.sluice.worker.queue.stream;

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
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.job.Job;
import dev.sluice.worker.pool.RedisConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingSummary;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Stream mode: jobs are entries of a Redis stream read through a consumer group named by
 * {@code queue.group}; each node is a consumer named by its node id.
 *
 * <ul>
 *   <li>Acknowledged entries are deleted from the stream (XACK then XDEL), so the stream holds only unfinished
 *       work. Like every completion, an ack applies only to an entry still pending for this node: after Redis went
 *       back to a snapshot taken before the delivery (and lost the job's result with it), the entry is delivered
 *       again rather than deleted.</li>
 *   <li>A live node re-claims its own in-flight entries with {@code XCLAIM ... JUSTID} on a schedule: that resets
 *       their idle time without raising their delivery count, so only a dead node's entries ever pass the
 *       visibility timeout, and a healthy job waiting for a permit is never taken for poison.</li>
 *   <li>{@code XAUTOCLAIM} takes over entries idle past the visibility timeout; an entry delivered more than
 *       {@code queue.max_deliveries} times keeps killing its workers and is dead-lettered.</li>
 *   <li>Every path that hands an entry to this node (fetch, both reclaims) reads it on the fetcher's bounded
 *       connection: an entry larger than {@code queue.max_job_bytes} is streamed past, never held whole, and is
 *       dead-lettered with its size and hash; one not UTF-8 keeps its exact bytes in its dead letter.</li>
 * </ul>
 */
public final class StreamJobQueue extends RedisJobQueue {
    private static final Logger log = LoggerFactory.getLogger(StreamJobQueue.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KEEP_ALIVE_BATCH = 500;

    private static final byte[] STREAM_DEAD = Scripts.STREAM_DEAD.getBytes(StandardCharsets.UTF_8);
    private String reclaimCursor = "0-0";

    public StreamJobQueue(QueueConfig config, String nodeId, RedisConnections redis, Clock clock) {
        super(config, nodeId, redis, clock, config.stream(), Scripts.STREAM_PROMOTE);
    }

    @Override
    public String mode() {
        return "stream";
    }

    @Override
    public void start() {
        redis.withJedis(j -> {
            ensureGroup(j);
            return null;
        });
    }

    private void ensureGroup(Jedis j) {
        try {
            j.xgroupCreate(config.stream(), config.group(), new StreamEntryID(0, 0), true);
        } catch (JedisDataException e) {
            if (e.getMessage() == null || !e.getMessage().startsWith("BUSYGROUP")) {
                throw e;
            }
        }
    }

    /**
     * A blocking XREADGROUP on the fetcher's bounded connection: an entry larger than {@code queue.max_job_bytes}
     * is streamed past, never held whole (see {@link dev.sluice.worker.pool.BoundedReplyConnection}), and arrives
     * as a malformed delivery with its size and hash, to be dead-lettered.
     */
    @Override
    public List<Delivery> fetch(int max, Duration block) {
        Jedis j = fetcher.get(block);
        Object reply;
        try {
            reply = j.sendCommand(Protocol.Command.XREADGROUP, "GROUP", config.group(), nodeId, "COUNT",
                    Integer.toString(max), "BLOCK", Long.toString(block.toMillis()), "STREAMS", config.stream(), ">");
        } catch (JedisDataException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("NOGROUP")) {
                log.warn("consumer group {} on {} is gone (Redis lost its data?); creating it again", config.group(), config.stream());
                ensureGroup(j);
                return List.of();
            }
            throw redis.refusals().refused("fetch", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        if (reply == null) {
            return List.of();
        }
        List<Delivery> out = new ArrayList<>();
        for (Object stream : (List<?>) reply) {
            List<?> entries = (List<?>) ((List<?>) stream).get(1);
            for (int i = 0; i < entries.size(); i++) {
                out.add(toDelivery((List<?>) entries.get(i), 1));
                RawEntries.release(entries, i);
            }
        }
        return out;
    }

    /** One raw entry: id, fields (null for an entry deleted meanwhile). */
    private Delivery toDelivery(List<?> entry, long deliveries) {
        return RawEntries.stream(ascii(entry.get(0)), (List<?>) entry.get(1), deliveries, codec, config.maxJobBytes());
    }

    private static String ascii(Object o) {
        return new String((byte[]) o, StandardCharsets.US_ASCII);
    }

    @Override
    public List<Delivery> reclaim(int max) {
        if (max <= 0) {
            return List.of();
        }
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        List<?> claimed;
        Map<String, Long> deliveries = new HashMap<>();
        try {
            List<?> reply = (List<?>) j.sendCommand(Protocol.Command.XAUTOCLAIM, config.stream(), config.group(), nodeId,
                    Long.toString(config.visibilityTimeoutSecs() * 1000L), reclaimCursor, "COUNT", Integer.toString(max));
            reclaimCursor = ascii(reply.get(0));
            claimed = (List<?>) reply.get(1);
            if (claimed.isEmpty()) {
                return List.of();
            }
            // Each claimed entry's own delivery count (raised by the claim), one XPENDING per id in one pipeline.
            Pipeline p = j.pipelined();
            List<Response<Object>> counts = new ArrayList<>(claimed.size());
            for (Object entry : claimed) {
                String id = ascii(((List<?>) entry).get(0));
                counts.add(p.sendCommand(Protocol.Command.XPENDING, config.stream(), config.group(), id, id, "1"));
            }
            p.sync();
            for (Response<Object> c : counts) {
                List<?> rows = (List<?>) c.get();
                if (!rows.isEmpty()) {
                    List<?> row = (List<?>) rows.getFirst();
                    deliveries.put(ascii(row.get(0)), (Long) row.get(3));
                }
            }
        } catch (JedisDataException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("NOGROUP")) {
                return List.of();
            }
            throw redis.refusals().refused("reclaim", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        List<Delivery> out = new ArrayList<>();
        for (int i = 0; i < claimed.size(); i++) {
            List<?> e = (List<?>) claimed.get(i);
            if (e != null && e.size() > 1 && e.get(1) != null) {
                out.add(toDelivery(e, deliveries.getOrDefault(ascii(e.get(0)), 2L)));
            }
            RawEntries.release(claimed, i);
        }
        if (!out.isEmpty()) {
            log.info("took over {} job(s) left in flight by a node gone for over {} s", out.size(), config.visibilityTimeoutSecs());
        }
        return out;
    }

    @Override
    public List<Delivery> reclaimFrom(String deadNodeId, int max) {
        if (max <= 0 || deadNodeId.equals(nodeId)) {
            return List.of();
        }
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        List<Delivery> out = new ArrayList<>();
        try {
            List<?> pairs = (List<?>) j.eval(Scripts.STREAM_CLAIM_FROM, List.of(config.stream()),
                    List.of(config.group(), deadNodeId, nodeId, Integer.toString(max)));
            // The claim moved ids only; each entry is read here, on the bounded connection.
            for (int i = 0; i + 1 < pairs.size(); i += 2) {
                String id = (String) pairs.get(i);
                List<?> range = (List<?>) j.sendCommand(Protocol.Command.XRANGE, config.stream(), id, id);
                if (!range.isEmpty()) {
                    out.add(toDelivery((List<?>) range.getFirst(), (Long) pairs.get(i + 1)));
                }
            }
        } catch (JedisDataException e) {
            if (e.getMessage() != null && e.getMessage().contains("NOGROUP")) {
                return out;
            }
            throw redis.refusals().refused("reclaim", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        if (!out.isEmpty()) {
            log.info("took over {} job(s) left in flight by node {}, which left the cluster", out.size(), deadNodeId);
        }
        return out;
    }

    @Override
    public List<Refused> complete(List<Completion> batch) {
        return completeInPipeline(batch, (p, replies) -> {
            List<StreamEntryID> acked = new ArrayList<>();
            List<Completion.Ack> acks = new ArrayList<>();
            for (Completion c : batch) {
                switch (c) {
                    case Completion.Ack a -> {
                        acked.add(new StreamEntryID(a.delivery().handle()));
                        acks.add(a);
                    }
                    case Completion.Retry r -> replies.expect(c, Replies.command(c), List.of(p.eval(Scripts.STREAM_RETRY,
                            List.of(config.stream(), config.delayed()), List.of(config.group(), r.delivery().handle(),
                                    nodeId, Long.toString(r.delayMs()), codec.toRetryJson(r.next(), java.util.concurrent.ThreadLocalRandom.current().nextLong())))));
                    case Completion.DeadLetter d -> {
                        List<byte[]> args = new ArrayList<>(DeadLetters.utf8(config.group(), d.delivery().handle(), nodeId,
                                Long.toString(DeadLetters.retentionMs(config.deadLetterRetentionDays()))));
                        args.addAll(DeadLetters.fields(d, nodeId, mode(), clock));
                        replies.expect(c, Replies.command(c), List.of(p.eval(STREAM_DEAD,
                                deadLetterKeys(d, config.stream()), args)));
                    }
                    case Completion.HandBack h -> {
                        List<String> args = new ArrayList<>(List.of(config.group(), h.delivery().handle(), nodeId));
                        h.delivery().raw().forEach((k, v) -> {
                            args.add(k);
                            args.add(v);
                        });
                        replies.expect(c, Replies.command(c), List.of(p.eval(Scripts.STREAM_HAND_BACK,
                                List.of(config.stream()), args)));
                    }
                }
            }
            if (!acked.isEmpty()) {
                List<String> args = new ArrayList<>(2 * acked.size() + 3);
                args.add(config.group());
                args.add(nodeId);
                args.add(backfills.prefix());
                for (int i = 0; i < acked.size(); i++) {
                    String backfill = acks.get(i).delivery().batch();
                    args.add(acked.get(i).toString());
                    args.add(backfill == null ? "" : backfill);
                }
                List<Response<?>> ackReplies = List.of(p.eval(Scripts.STREAM_ACK, List.of(config.stream()), args));
                acks.forEach(a -> replies.expect(a, Replies.command(a), ackReplies));
            }
        });
    }

    @Override
    public void keepAlive(Collection<Delivery> inFlight) {
        if (inFlight.isEmpty()) {
            return;
        }
        List<StreamEntryID> ids = new ArrayList<>(inFlight.size());
        for (Delivery d : inFlight) {
            ids.add(new StreamEntryID(d.handle()));
        }
        redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            for (int i = 0; i < ids.size(); i += KEEP_ALIVE_BATCH) {
                List<StreamEntryID> chunk = ids.subList(i, Math.min(ids.size(), i + KEEP_ALIVE_BATCH));
                p.xclaimJustId(config.stream(), config.group(), nodeId, 0, XClaimParams.xClaimParams(),
                        chunk.toArray(StreamEntryID[]::new));
            }
            p.sync();
            return null;
        });
    }

    @Override
    public Enqueued enqueue(List<Job> jobs) {
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            List<Response<StreamEntryID>> replies = new ArrayList<>(jobs.size());
            for (Job job : jobs) {
                replies.add(p.xadd(config.stream(), StreamEntryID.NEW_ENTRY, codec.toFields(job)));
            }
            p.sync();
            return Replies.enqueued(replies, "XADD", redis.refusals());
        });
    }

    @Override
    public Enqueued enqueueRaw(List<String> elements) {
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            List<Response<StreamEntryID>> replies = new ArrayList<>(elements.size());
            for (String element : elements) {
                replies.add(p.xadd(config.stream(), StreamEntryID.NEW_ENTRY, rawFields(element)));
            }
            p.sync();
            return Replies.enqueued(replies, "XADD", redis.refusals());
        });
    }

    private static Map<String, String> rawFields(String element) {
        String trimmed = element.strip();
        if (trimmed.startsWith("{")) {
            try {
                JsonNode node = JSON.readTree(trimmed);
                Map<String, String> fields = new LinkedHashMap<>();
                for (Map.Entry<String, JsonNode> e : node.properties()) {
                    fields.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString());
                }
                if (!fields.isEmpty()) {
                    return fields;
                }
            } catch (JacksonException e) {
                // Not JSON: falls through and is queued as a key, as a producer that XADDs key=<element> would.
            }
        }
        return Map.of("key", element);
    }

    @Override
    public QueueStats stats() {
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            Response<Long> length = p.xlen(config.stream());
            Response<Long> delayed = p.zcard(config.delayed());
            Response<Long> dead = p.xlen(config.deadLetter());
            p.sync();
            long pending = 0;
            Map<String, Long> byConsumer = new TreeMap<>();
            long waiting = length.get();
            long oldestAgeMs = 0;
            try {
                StreamPendingSummary summary = j.xpending(config.stream(), config.group());
                pending = summary.getTotal();
                if (summary.getConsumerMessageCount() != null) {
                    byConsumer.putAll(summary.getConsumerMessageCount());
                }
                waiting = Math.max(0, length.get() - pending);
                for (StreamGroupInfo g : j.xinfoGroups(config.stream())) {
                    if (config.group().equals(g.getName()) && g.getLastDeliveredId() != null) {
                        // Raw, on the pool's bounded connection: the entry may be one too large for this heap.
                        List<?> next = (List<?>) j.sendCommand(Protocol.Command.XRANGE, config.stream(),
                                "(" + g.getLastDeliveredId(), "+", "COUNT", "1");
                        if (!next.isEmpty()) {
                            StreamEntryID id = new StreamEntryID(ascii(((List<?>) next.getFirst()).get(0)));
                            oldestAgeMs = Math.max(0, clock.millis() - id.getTime());
                        }
                    }
                }
            } catch (JedisDataException e) {
                // No stream or group yet: nothing is pending.
                if (length.get() > 0) {
                    oldestAgeMs = -1;
                }
            }
            return new QueueStats(mode(), waiting, pending, delayed.get(), dead.get(), oldestAgeMs, byConsumer);
        });
    }

    @Override
    public void tidy(Duration idle) {
        removeIdleConsumers(idle.toMillis());
    }

    /** Deletes consumers that hold nothing and have been idle for {@code idleMs}; never one with pending entries. */
    public int removeIdleConsumers(long idleMs) {
        return redis.withJedis(j -> {
            int removed = 0;
            try {
                for (var c : j.xinfoConsumers2(config.stream(), config.group())) {
                    if (c.getPending() == 0 && c.getIdle() >= idleMs && !c.getName().equals(nodeId)) {
                        j.xgroupDelConsumer(config.stream(), config.group(), c.getName());
                        removed++;
                    }
                }
            } catch (JedisDataException e) {
                return 0;
            }
            return removed;
        });
    }

}
