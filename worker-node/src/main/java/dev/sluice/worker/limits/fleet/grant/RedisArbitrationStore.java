package dev.sluice.worker.limits.fleet.grant;

import dev.sluice.worker.pool.RedisCalls;
import redis.clients.jedis.exceptions.JedisDataException;

import java.util.List;

/**
 * The grantor lease in one Redis hash, {@code sluice:limits:grantor:<cluster name>}, changed only by one script
 * per step, so a read-modify-write is atomic. The record has no expiry: nothing here relies on Redis's key expiry
 * or its clock; a lost record (Redis restarted from an old snapshot, or flushed) reads as absent or older, and the
 * nodes handle that as described in {@link GrantorLease}.
 */
public final class RedisArbitrationStore implements ArbitrationStore {

    /** KEYS[1] the record; ARGV: action, incarnation, term, member, node, expected seq (renew, take), new term, ready. */
    static final String SCRIPT = """
            local k = KEYS[1]
            local h = redis.call('HMGET', k, 'term', 'seq', 'holder', 'member', 'node', 'ready', 'ended')
            local term = h[1] or ''
            local seq = tonumber(h[2] or '0')
            local holder = h[3] or ''
            local ended = h[7] or '0'
            local a = ARGV[1]
            if a == 'renew' then
              if term ~= '' and term == ARGV[3] and holder == ARGV[2] and ended ~= '1' and tostring(seq) == ARGV[6] then
                seq = seq + 1
                redis.call('HSET', k, 'seq', seq, 'member', ARGV[4], 'ready', ARGV[8])
              end
            elseif a == 'take' then
              local matches
              if ARGV[3] == '' then
                matches = term == ''
              else
                matches = term == ARGV[3] and tostring(seq) == ARGV[6]
              end
              if matches then
                redis.call('HSET', k, 'term', ARGV[7], 'seq', seq + 1, 'holder', ARGV[2], 'member', ARGV[4], 'node', ARGV[5],
                    'ready', ARGV[8], 'ended', '0')
              end
            elseif a == 'end' then
              if term ~= '' and term == ARGV[3] and holder == ARGV[2] and ended ~= '1' then
                seq = seq + 1
                redis.call('HSET', k, 'seq', seq, 'ended', '1')
              end
            end
            h = redis.call('HMGET', k, 'term', 'seq', 'holder', 'member', 'node', 'ready', 'ended')
            return {h[1] or '', h[2] or '0', h[3] or '', h[4] or '', h[5] or '', h[6] or '0', h[7] or '0'}
            """;

    private final RedisCalls redis;
    private final String key;

    public RedisArbitrationStore(RedisCalls redis, String clusterName) {
        this.redis = redis;
        this.key = "sluice:limits:grantor:" + clusterName;
    }

    public String key() {
        return key;
    }

    @Override
    public Arbitration read() {
        return run("read", "", "", "", "", "0", "", false);
    }

    @Override
    public Arbitration renew(String incarnation, String term, long expectedSeq, String member, boolean ready) {
        return run("renew", incarnation, term, member, "", Long.toString(expectedSeq), "", ready);
    }

    @Override
    public Arbitration take(Arbitration expected, String incarnation, String member, String node, String newTerm) {
        return run("take", incarnation, expected.term(), member, node, Long.toString(expected.seq()), newTerm, false);
    }

    @Override
    public Arbitration end(String incarnation, String term) {
        return run("end", incarnation, term, "", "", "0", "", false);
    }

    private Arbitration run(String action, String incarnation, String term, String member, String node, String seq,
                            String newTerm, boolean ready) {
        List<?> r = redis.withJedis(j -> {
            try {
                return (List<?>) j.eval(SCRIPT, List.of(key), List.of(action, incarnation, term, member, node, seq,
                        newTerm, ready ? "1" : "0"));
            } catch (JedisDataException e) {
                throw redis.refusals().refused("grantor-" + action, e);
            }
        });
        String t = (String) r.get(0);
        if (t.isEmpty()) {
            return Arbitration.ABSENT;
        }
        return new Arbitration(t, Long.parseLong((String) r.get(1)), (String) r.get(2), (String) r.get(3),
                (String) r.get(4), "1".equals(r.get(5)), "1".equals(r.get(6)));
    }
}
