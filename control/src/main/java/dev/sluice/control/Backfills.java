package dev.sluice.control;

import dev.sluice.common.job.BatchId;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.ZRangeParams;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Backfills: the batches {@code sluice enqueue} puts on a queue, each with an id, counted as their jobs end.
 *
 * <p>One hash per backfill, {@code <queue>:backfill:<id>}, and an index of the newest {@value #KEEP},
 * {@code <queue>:backfills} (scored by when each started). The hash holds:
 * <ul>
 *   <li>{@code total}, {@code state} ({@code enqueuing}, then {@code complete}, or {@code stopped} when the enqueue
 *       failed half way), {@code by}, {@code at} (Redis's time in ms), written by the enqueue, and
 *       {@code reserved} / {@code uncertain}: jobs counted in the total whose going in is not known yet / was never
 *       known (the enqueue failed between counting them and Redis's answer);</li>
 *   <li>{@code done} and {@code dead}, counted by the worker's queue scripts in the same script that acknowledges the
 *       job, only when that script really ended this delivery: a job is counted once, however often it was retried,
 *       redelivered or completed twice;</li>
 *   <li>{@code replayed}: dead letters replayed (they leave {@code dead} and are counted again when they end).</li>
 * </ul>
 * The counting scripts only add to a hash that exists, so a job naming an unknown or forgotten backfill counts
 * nowhere. Counts are advisory: under a full Redis a count the server refuses is skipped (the job's own fate is not
 * held up by it), and a node older than this code drops the id when it retries a job.
 */
public final class Backfills {
    /** Backfills listed in the index; the hashes of older ones are deleted as new ones start. */
    public static final int KEEP = 200;

    /**
     * KEYS: hash, index. ARGV: id, by, keep, key prefix. 0 when the id is in use, else 1. Forgets the oldest
     * backfills beyond {@code keep} that are over (every job enqueued has ended); one still running is kept, unless it
     * is beyond ten times {@code keep}.
     */
    private static final String BEGIN = """
            if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            redis.call('HSET', KEYS[1], 'state', 'enqueuing', 'total', 0, 'done', 0, 'dead', 0, 'replayed', 0,
                       'by', ARGV[2], 'at', string.format('%.0f', now))
            redis.call('ZADD', KEYS[2], now, ARGV[1])
            local keep = tonumber(ARGV[3])
            local old = redis.call('ZRANGE', KEYS[2], 0, -(keep + 1))
            local beyondAll = #old - 9 * keep
            for i, id in ipairs(old) do
              local h = redis.pcall('HMGET', ARGV[4] .. id, 'state', 'total', 'done', 'dead', 'uncertain')
              local over = type(h) ~= 'table' or h[1] == false or (h[1] ~= 'enqueuing'
                  and (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) >= (tonumber(h[2]) or 0))
              if over or i <= beyondAll then
                redis.call('DEL', ARGV[4] .. id)
                redis.call('ZREM', KEYS[2], id)
              end
            end
            return 1
            """;

    /**
     * KEYS: hash. ARGV: n. Nothing (0) when the backfill is not there, and nothing (-1) once its enqueue is over
     * (marked complete or stopped): a stopped enqueue's total stays what it said.
     */
    private static final String RESERVE = """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            if redis.call('HGET', KEYS[1], 'state') ~= 'enqueuing' then return -1 end
            redis.call('HSET', KEYS[1], 'reserved', ARGV[1])
            redis.call('HINCRBY', KEYS[1], 'total', tonumber(ARGV[1]))
            return 1
            """;

    /**
     * KEYS: hash. ARGV: jobs refused, the new state or '', jobs whose fate is unknown. Redis refuses a script's first
     * write when it is full, and no later one (it cannot stop a script half way): this script's first write, HDEL, is
     * one Redis serves even when full, so the count and the state that follow are taken too. Nothing (0) when the
     * backfill is not there.
     */
    private static final String SETTLE = """
            if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
            local uncertain = tonumber(ARGV[3])
            if ARGV[2] ~= '' then
              uncertain = math.max(uncertain, tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0'))
            end
            redis.call('HDEL', KEYS[1], 'reserved')
            if tonumber(ARGV[1]) > 0 then redis.call('HINCRBY', KEYS[1], 'total', -tonumber(ARGV[1])) end
            if uncertain > 0 then redis.call('HSET', KEYS[1], 'uncertain', uncertain) end
            if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[2]) end
            return 1
            """;

    private final String prefix;
    private final String index;

    /** @param queueName the queue's stream (stream mode) or list (list mode) */
    public Backfills(String queueName) {
        this.prefix = queueName + ":backfill:";
        this.index = queueName + ":backfills";
    }

    /** What the queue scripts put before a backfill's id to name its hash. */
    public String prefix() {
        return prefix;
    }

    public String key(String id) {
        return prefix + id;
    }

    public String index() {
        return index;
    }

    /**
     * Starts backfill {@code id}, or says it cannot: false when a backfill of that id is listed already (ids are not
     * reused, so one backfill's counts never mix with another's).
     */
    public boolean begin(Jedis jedis, String id, String by) {
        if (!BatchId.valid(id)) {
            throw new IllegalArgumentException(BatchId.rule(id));
        }
        Object r = jedis.eval(BEGIN, List.of(key(id), index), List.of(id, by, Integer.toString(KEEP), prefix));
        return Long.valueOf(1).equals(r);
    }

    /**
     * Counts {@code n} jobs about to go onto the queue in the total, before they go, so no job of a backfill is ever
     * on the queue uncounted. Refused (a {@code JedisDataException}) when Redis is full: then enqueue nothing.
     * {@link #settle} takes back what Redis then refuses. False, with nothing counted, when the backfill is gone or
     * its enqueue was already marked over (a signal stopped it): then enqueue nothing more.
     */
    public boolean reserve(Jedis jedis, String id, long n) {
        return ((Long) jedis.eval(RESERVE, List.of(key(id)), List.of(Long.toString(n)))) == 1L;
    }

    /** After a reserved chunk went out: takes the {@code refused} jobs off the total. Works when Redis is full. */
    public void settle(Jedis jedis, String id, long refused) {
        jedis.eval(SETTLE, List.of(key(id)), List.of(Long.toString(refused), "", "0"));
    }

    /**
     * The enqueue is over: every job is in ({@code complete}) or it stopped half way ({@code stopped}).
     * {@code uncertain} jobs were counted in the total but may not have gone in (the enqueue failed between counting
     * and hearing Redis's answer); a chunk still reserved in Redis counts as uncertain too, whatever the caller knew
     * (a signal's hook can end the backfill between the count and the caller noting it). The dashboard says so. Works
     * when Redis is full, which is when an enqueue stops.
     */
    public void ended(Jedis jedis, String id, boolean complete, long uncertain) {
        jedis.eval(SETTLE, List.of(key(id)), List.of("0", complete ? "complete" : "stopped", Long.toString(uncertain)));
    }

    /** The newest {@code max} backfills, newest first, with Redis's time of the reading. */
    public Reading recent(Jedis jedis, int max) {
        List<String> ids = jedis.zrange(index, ZRangeParams.zrangeParams(0, Math.max(0, max - 1)).rev());
        Pipeline p = jedis.pipelined();
        Response<List<String>> time = p.time();
        List<Response<Map<String, String>>> hashes = new ArrayList<>();
        for (String id : ids) {
            hashes.add(p.hgetAll(key(id)));
        }
        p.sync();
        List<Backfill> out = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            Map<String, String> h;
            try {
                h = hashes.get(i).get();
            } catch (JedisDataException e) {
                continue; // not a hash: written by someone else, skipped
            }
            if (!h.isEmpty()) {
                out.add(Backfill.of(ids.get(i), h));
            }
        }
        List<String> t = time.get();
        long nowMs = Long.parseLong(t.get(0)) * 1000 + Long.parseLong(t.get(1)) / 1000;
        return new Reading(nowMs, out);
    }

    /** Backfills as read at {@code redisTimeMs}. */
    public record Reading(long redisTimeMs, List<Backfill> backfills) {
    }

    /**
     * One backfill's counts.
     *
     * @param state     {@code enqueuing}, {@code complete} or {@code stopped}
     * @param uncertain jobs counted in {@code total} that may not have gone in (an enqueue that failed between
     *                  counting them and Redis's answer)
     */
    public record Backfill(String id, String state, String by, long startedAtMs, long total, long done, long dead,
                           long replayed, long uncertain) {

        static Backfill of(String id, Map<String, String> h) {
            return new Backfill(id, h.getOrDefault("state", "complete"), h.getOrDefault("by", ""), number(h, "at"),
                    number(h, "total"), number(h, "done"), number(h, "dead"), number(h, "replayed"),
                    number(h, "uncertain") + number(h, "reserved"));
        }

        /** Jobs that ended, done or dead-lettered. */
        public long ended() {
            return done + dead;
        }

        /** Jobs still to end (never below 0, even if counts went over a total an enqueue did not finish). */
        public long left() {
            return Math.max(0, total - ended());
        }

        /** Every job enqueued and ended. */
        public boolean finished() {
            return "complete".equals(state) && ended() >= total;
        }

        /** The enqueue is over and every job that went in has ended, as far as the counts can tell. */
        public boolean over() {
            return !"enqueuing".equals(state) && ended() + uncertain >= total;
        }

        private static long number(Map<String, String> h, String field) {
            try {
                return Long.parseLong(h.getOrDefault(field, "0"));
            } catch (NumberFormatException e) {
                return 0;
            }
        }
    }
}
