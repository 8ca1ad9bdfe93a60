package dev.sluice.worker.queue.redis;

/**
 * The Lua scripts that make each completion atomic with its acknowledgement. Each first checks that the delivery is
 * still in this node's in-flight set (pending for this consumer, or in the processing list) and does nothing more
 * when it is not, so a completion applied twice, or after another node took the job over (a node cut off from the
 * cluster while the others claimed its jobs, say), changes nothing.
 *
 * <p>Redis does not roll a script back when a command fails half way (a write refused with OOM under
 * {@code noeviction}, say), so every script runs the write that can be refused first and the acknowledgement
 * (XACK, XDEL, LREM) last: a refused script has changed nothing and the job stays pending. No script unpacks an
 * argument list of unbounded length; dead letters carry a bounded number of fields (see {@code DeadLetters}).
 * Scripts read the server's clock ({@code TIME}), so due times do not depend on node clocks.
 */
public final class Scripts {
    private Scripts() {
    }

    private static final String NOW = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            """;

    /**
     * Counts one ended job for its backfill, when the job names one that exists ({@link dev.sluice.control.Backfills}).
     * A count Redis refuses (full) is skipped with {@code redis.pcall}: the job's own fate does not wait on it.
     */
    private static final String COUNT = """
            local function counts(key)
              return key ~= nil and key ~= '' and redis.pcall('EXISTS', key) == 1
            end
            local function count(key, field)
              if counts(key) then redis.pcall('HINCRBY', key, field, 1) end
            end
            """;

    /**
     * The dead letter's fields from ARGV[first] on; when the job's backfill exists, it also names the hash it is
     * counted in ({@code dead.backfill}), so a replay takes back only a count that was made.
     */
    private static final String DEAD_FIELDS = """
            local function deadFields(first, backfill)
              local f = {}
              for i = first, #ARGV do f[#f + 1] = ARGV[i] end
              if counts(backfill) then
                f[#f + 1] = 'dead.backfill'; f[#f + 1] = backfill
              end
              return f
            end
            """;

    /**
     * KEYS: stream. ARGV: group, consumer, backfill key prefix, then entry id, backfill id ('' for none) pairs.
     * Acknowledges and deletes each entry still pending for this consumer, counts it done for its backfill, and leaves
     * the others alone: an entry Redis no longer shows delivered to this node (Redis went back to a snapshot taken
     * before the delivery, and lost the job's result with it) is delivered again, not deleted, and not counted. The
     * pairs are one completer batch (bounded); none is unpacked. The backfill hashes are named from the prefix, not
     * passed as keys: Sluice runs on one Redis server, not a Redis Cluster.
     */
    public static final String STREAM_ACK = COUNT + """
            local n = 0
            for i = 4, #ARGV, 2 do
              local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
              if #mine > 0 then
                redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
                redis.call('XDEL', KEYS[1], ARGV[i])
                n = n + 1
                if ARGV[i + 1] ~= '' then count(ARGV[3] .. ARGV[i + 1], 'done') end
              end
            end
            return n
            """;

    /** KEYS: stream, delayed. ARGV: group, entry id, consumer, delay ms, job JSON. */
    public static final String STREAM_RETRY = NOW + """
            local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
            if #mine == 0 then return 0 end
            redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[5])
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            redis.call('XDEL', KEYS[1], ARGV[2])
            return 1
            """;

    /**
     * KEYS: stream, dead, and the job's backfill hash when it names one. ARGV: group, entry id, consumer, retention ms,
     * field/value pairs...
     */
    public static final String STREAM_DEAD = NOW + COUNT + DEAD_FIELDS + """
            local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
            if #mine == 0 then return 0 end
            local f = deadFields(5, KEYS[3])
            redis.call('XADD', KEYS[2], 'MINID', '~', tostring(now - tonumber(ARGV[4])), '*', unpack(f))
            count(KEYS[3], 'dead')
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            redis.call('XDEL', KEYS[1], ARGV[2])
            return 1
            """;

    /** KEYS: stream. ARGV: group, entry id, consumer, field/value pairs... */
    public static final String STREAM_HAND_BACK = """
            local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
            if #mine == 0 then return 0 end
            redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
            redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
            redis.call('XDEL', KEYS[1], ARGV[2])
            return 1
            """;

    /** KEYS: delayed, stream. ARGV: max. Moves due retries to the stream, each exactly once. */
    public static final String STREAM_PROMOTE = NOW + """
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
            for _, member in ipairs(due) do
              local ok, job = pcall(cjson.decode, member)
              if ok and type(job) == 'table' and type(job.key) == 'string' then
                local f = {'key', job.key, 'type', tostring(job.type), 'id', tostring(job.id),
                           'attempts', tostring(job.attempts or 0), 'v', tostring(job.v or 1)}
                if type(job.payload) == 'string' then
                  table.insert(f, 'payload'); table.insert(f, job.payload)
                end
                if type(job.batch) == 'string' then
                  table.insert(f, 'batch'); table.insert(f, job.batch)
                end
                redis.call('XADD', KEYS[2], '*', unpack(f))
              else
                redis.call('XADD', KEYS[2], '*', 'raw', member)
              end
              redis.call('ZREM', KEYS[1], member)
            end
            return #due
            """;

    /**
     * KEYS: processing, dead. ARGV: index, tombstone, retention ms, field/value pairs... Dead-letters the element
     * at {@code index} of the processing list without it ever leaving Redis (it is too large to read): the dead
     * letter first, then the element is overwritten with a unique tombstone and that is removed. Only the fetcher
     * pushes to the processing list's head, so the index it saw is still the element's.
     */
    public static final String LIST_BURY = NOW + """
            redis.call('XADD', KEYS[2], 'MINID', '~', tostring(now - tonumber(ARGV[3])), '*', unpack(ARGV, 4))
            redis.call('LSET', KEYS[1], tonumber(ARGV[1]), ARGV[2])
            redis.call('LREM', KEYS[1], 1, ARGV[2])
            return 1
            """;

    /** KEYS: processing, deliveries, delayed. ARGV: element, delay ms, job JSON. */
    public static final String LIST_RETRY = NOW + """
            if not redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1) then return 0 end
            redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
            redis.call('LREM', KEYS[1], -1, ARGV[1])
            redis.call('HDEL', KEYS[2], redis.sha1hex(ARGV[1]))
            return 1
            """;

    /**
     * KEYS: processing, deliveries, dead, and the job's backfill hash when it names one. ARGV: element, retention ms,
     * field/value pairs...
     */
    public static final String LIST_DEAD = NOW + COUNT + DEAD_FIELDS + """
            if not redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1) then return 0 end
            local f = deadFields(3, KEYS[4])
            redis.call('XADD', KEYS[3], 'MINID', '~', tostring(now - tonumber(ARGV[2])), '*', unpack(f))
            count(KEYS[4], 'dead')
            redis.call('LREM', KEYS[1], -1, ARGV[1])
            redis.call('HDEL', KEYS[2], redis.sha1hex(ARGV[1]))
            return 1
            """;

    /**
     * KEYS: processing, deliveries, backfill hash. ARGV: element. The ack of a job of a backfill: removes it from the
     * processing list and counts it done, only when it was still there.
     */
    public static final String LIST_ACK = COUNT + """
            if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
            redis.call('HDEL', KEYS[2], redis.sha1hex(ARGV[1]))
            count(KEYS[3], 'done')
            return 1
            """;

    /** KEYS: processing, list. ARGV: element. Puts it back at the consuming end, to be taken next. */
    public static final String LIST_HAND_BACK = """
            if not redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1) then return 0 end
            redis.call('RPUSH', KEYS[2], ARGV[1])
            redis.call('LREM', KEYS[1], -1, ARGV[1])
            return 1
            """;

    /**
     * KEYS: processing of the gone node, list, deliveries, registry. ARGV: node id. {@link #LIST_RECOVER} without
     * looking at the node's record: the cluster already said the node is gone, or the node is this one, which holds
     * its id and finds what an earlier process of it left.
     */
    public static final String LIST_RECOVER_NOW = """
            local n = 0
            while true do
              local e = redis.call('LINDEX', KEYS[1], -1)
              if not e then break end
              redis.call('HINCRBY', KEYS[3], redis.sha1hex(e), 1)
              redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT')
              n = n + 1
            end
            redis.call('SREM', KEYS[4], ARGV[1])
            return n
            """;

    /**
     * KEYS: processing of the dead node, list, deliveries, registry, record of the dead node ({@code NodeRecord}).
     * ARGV: node id, the incarnation and seq the caller saw stand still ('' and '' for a record found absent).
     * Moves a dead node's in-flight elements back to the consuming end, counting a redelivery for each, unless its
     * record has changed since the caller judged it (it renewed after all, or a new process took the id over):
     * then -1, and nothing moves.
     */
    public static final String LIST_RECOVER = """
            local cur = redis.call('HMGET', KEYS[5], 'incarnation', 'seq')
            if ARGV[2] == '' then
              if cur[1] then return -1 end
            elseif cur[1] ~= ARGV[2] or cur[2] ~= ARGV[3] then
              return -1
            end
            """ + LIST_RECOVER_NOW;
    /**
     * KEYS: stream. ARGV: group, dead consumer, claiming consumer, max. Moves up to max of the dead consumer's
     * pending entries to the claimer in one step, so concurrent claimers never get the same entry, and removes the
     * dead consumer once it holds nothing. Claims ids only ({@code JUSTID}, the delivery count set one higher with
     * {@code RETRYCOUNT}): no entry passes through the script, so none too large for a node's heap can stall Redis
     * here; the claimer reads the entries itself on a bounded connection. Returns id, delivery count pairs.
     */
    public static final String STREAM_CLAIM_FROM = """
            local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[2])
            local out = {}
            for _, p in ipairs(pending) do
              local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, p[1], 'RETRYCOUNT', p[4] + 1, 'JUSTID')
              if claimed[1] then
                table.insert(out, p[1])
                table.insert(out, p[4] + 1)
              end
            end
            if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
              redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
            end
            return out
            """;


    /** KEYS: delayed, list. ARGV: max. */
    public static final String LIST_PROMOTE = NOW + """
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
            for _, member in ipairs(due) do
              redis.call('LPUSH', KEYS[2], member)
              redis.call('ZREM', KEYS[1], member)
            end
            return #due
            """;
}
