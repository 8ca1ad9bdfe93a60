package dev.sluice.worker.queue;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.Job;
import dev.sluice.common.job.JobCodec;
import dev.sluice.worker.pool.RedisConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.XAutoClaimParams;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingEntry;
import redis.clients.jedis.resps.StreamPendingSummary;

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
 *       work.</li>
 *   <li>A live node re-claims its own in-flight entries with {@code XCLAIM ... JUSTID} on a schedule: that resets
 *       their idle time without raising their delivery count, so only a dead node's entries ever pass the
 *       visibility timeout, and a healthy job waiting for a permit is never taken for poison.</li>
 *   <li>{@code XAUTOCLAIM} takes over entries idle past the visibility timeout; an entry delivered more than
 *       {@code queue.max_deliveries} times keeps killing its workers and is dead-lettered.</li>
 * </ul>
 */
public final class StreamJobQueue implements JobQueue {
    private static final Logger log = LoggerFactory.getLogger(StreamJobQueue.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KEEP_ALIVE_BATCH = 500;

    private final QueueConfig config;
    private final String nodeId;
    private final RedisConnections redis;
    private final JobCodec codec;
    private final Clock clock;
    private final FetcherConnection fetcher;
    private StreamEntryID reclaimCursor = new StreamEntryID(0, 0);

    public StreamJobQueue(QueueConfig config, String nodeId, RedisConnections redis, Clock clock) {
        this.config = config;
        this.nodeId = nodeId;
        this.redis = redis;
        this.codec = new JobCodec(config.maxJobBytes());
        this.clock = clock;
        this.fetcher = new FetcherConnection(redis);
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

    @Override
    public List<Delivery> fetch(int max, Duration block) {
        Jedis j = fetcher.get(block);
        List<Map.Entry<String, List<StreamEntry>>> read;
        try {
            read = j.xreadGroup(config.group(), nodeId,
                    XReadGroupParams.xReadGroupParams().count(max).block(Math.toIntExact(block.toMillis())),
                    Map.of(config.stream(), StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY));
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
        if (read == null || read.isEmpty()) {
            return List.of();
        }
        List<Delivery> out = new ArrayList<>();
        for (Map.Entry<String, List<StreamEntry>> stream : read) {
            for (StreamEntry entry : stream.getValue()) {
                out.add(toDelivery(entry, 1));
            }
        }
        return out;
    }

    private Delivery toDelivery(StreamEntry entry, long deliveries) {
        Map<String, String> fields = entry.getFields() == null ? Map.of() : entry.getFields();
        String id = entry.getID().toString();
        try {
            return new Delivery(id, codec.fromFields(fields), null, fields, deliveries);
        } catch (BadJobException e) {
            return new Delivery(id, null, e, fields, deliveries);
        }
    }

    @Override
    public List<Delivery> reclaim(int max) {
        if (max <= 0) {
            return List.of();
        }
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        Map.Entry<StreamEntryID, List<StreamEntry>> claimed;
        List<StreamPendingEntry> pending;
        try {
            claimed = j.xautoclaim(config.stream(), config.group(), nodeId,
                    config.visibilityTimeoutSecs() * 1000L, reclaimCursor, XAutoClaimParams.xAutoClaimParams().count(max));
            reclaimCursor = claimed.getKey();
            if (claimed.getValue().isEmpty()) {
                return List.of();
            }
            List<StreamEntry> entries = claimed.getValue();
            pending = j.xpending(config.stream(), config.group(), new XPendingParams(
                    entries.getFirst().getID(), entries.getLast().getID(), entries.size() * 2).consumer(nodeId));
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        Map<String, Long> deliveries = new HashMap<>();
        for (StreamPendingEntry p : pending) {
            deliveries.put(p.getID().toString(), p.getDeliveredTimes());
        }
        List<Delivery> out = new ArrayList<>();
        for (StreamEntry entry : claimed.getValue()) {
            if (entry.getFields() != null) {
                out.add(toDelivery(entry, deliveries.getOrDefault(entry.getID().toString(), 2L)));
            }
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
        Object reply;
        try {
            reply = j.eval(Scripts.STREAM_CLAIM_FROM, List.of(config.stream()),
                    List.of(config.group(), deadNodeId, nodeId, Integer.toString(max)));
        } catch (JedisDataException e) {
            if (e.getMessage() != null && e.getMessage().contains("NOGROUP")) {
                return List.of();
            }
            throw e;
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
        List<?> triples = (List<?>) reply;
        List<Delivery> out = new ArrayList<>(triples.size() / 3);
        for (int i = 0; i + 2 < triples.size(); i += 3) {
            String id = (String) triples.get(i);
            long deliveries = (Long) triples.get(i + 1);
            List<?> flat = (List<?>) triples.get(i + 2);
            Map<String, String> fields = new LinkedHashMap<>();
            for (int k = 0; k + 1 < flat.size(); k += 2) {
                fields.put((String) flat.get(k), (String) flat.get(k + 1));
            }
            out.add(toDelivery(new StreamEntry(new StreamEntryID(id), fields), deliveries));
        }
        if (!out.isEmpty()) {
            log.info("took over {} job(s) left in flight by node {}, which left the cluster", out.size(), deadNodeId);
        }
        return out;
    }

    @Override
    public List<Refused> complete(List<Completion> batch) {
        if (batch.isEmpty()) {
            return List.of();
        }
        return redis.withJedis(j -> {
            Pipeline p = j.pipelined();
            Replies replies = new Replies(redis.refusals());
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
                                    nodeId, Long.toString(r.delayMs()), codec.toJson(r.next())))));
                    case Completion.DeadLetter d -> {
                        List<String> args = new ArrayList<>(List.of(config.group(), d.delivery().handle(), nodeId,
                                Long.toString(DeadLetters.retentionMs(config.deadLetterRetentionDays()))));
                        args.addAll(DeadLetters.fields(d, nodeId, mode(), clock));
                        replies.expect(c, Replies.command(c), List.of(p.eval(Scripts.STREAM_DEAD,
                                List.of(config.stream(), config.deadLetter()), args)));
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
                StreamEntryID[] ids = acked.toArray(StreamEntryID[]::new);
                List<Response<?>> ackReplies = List.of(p.xack(config.stream(), config.group(), ids),
                        p.xdel(config.stream(), ids));
                acks.forEach(a -> replies.expect(a, Replies.command(a), ackReplies));
            }
            p.sync();
            return replies.read();
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
    public int promoteDue(int max) {
        Jedis j = fetcher.get(Duration.ofMillis(config.blockTimeoutMs()));
        try {
            return ((Long) j.eval(Scripts.STREAM_PROMOTE, List.of(config.delayed(), config.stream()), List.of(Integer.toString(max)))).intValue();
        } catch (JedisDataException e) {
            throw redis.refusals().refused("promote", e);
        } catch (RuntimeException e) {
            fetcher.failed(e);
            throw e;
        }
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
            return Enqueued.read(replies, "XADD", redis.refusals());
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
            return Enqueued.read(replies, "XADD", redis.refusals());
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
                        List<StreamEntry> next = j.xrange(config.stream(), "(" + g.getLastDeliveredId(), "+", 1);
                        if (!next.isEmpty()) {
                            oldestAgeMs = Math.max(0, clock.millis() - next.getFirst().getID().getTime());
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
    public List<DeadLetterEntry> deadLetters(int count) {
        return DeadLetters.newest(redis, config.deadLetter(), count);
    }

    @Override
    public int replayDeadLetters(Collection<String> deadLetterIds) {
        return DeadLetters.replay(redis, Scripts.STREAM_REPLAY, config.deadLetter(), config.stream(), deadLetterIds);
    }

    @Override
    public long trimDeadLetters() {
        return DeadLetters.trim(redis, config.deadLetter(), clock, config.deadLetterRetentionDays());
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

    @Override
    public void close() {
        fetcher.close();
    }
}
