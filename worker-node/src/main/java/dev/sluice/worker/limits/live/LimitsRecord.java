package dev.sluice.worker.limits.live;

import dev.sluice.worker.pool.RedisCalls;
import redis.clients.jedis.Jedis;

import java.util.List;

/**
 * The fleet's live Hub limits in Redis: one hash per cluster, {@code sluice:limits:fleet:<cluster name>}, with the
 * fields {@code version}, {@code rps}, {@code in_flight}, {@code by} and {@code at}. Every node, the CLI and the admin
 * endpoint go through it; nodes read it a few times a second and follow it ({@link LimitsFollower}).
 *
 * <ul>
 *   <li><b>Seeded only when absent.</b> A node's configuration ({@code hub.max_requests_per_second},
 *       {@code hub.max_concurrent_connections}) writes the record only if there is none; a node whose file says
 *       otherwise follows the record and says so.</li>
 *   <li><b>Changed by compare-and-set.</b> A change names the version it was made against and is refused when the
 *       record moved meanwhile, so two operators never overwrite each other unseen.</li>
 *   <li><b>Versions only go up.</b> A new version is Redis's time in ms, or one more than the last when that is
 *       later: a record that Redis lost (a restart from an older snapshot) and that a node seeds again still gets a
 *       newer version than any the fleet's store knows, so the store adopts it.</li>
 * </ul>
 * Both scripts change the record with one HSET after all their reads, so a failure half way changes nothing.
 */
public final class LimitsRecord {
    private static final String FIELDS = "'version', 'rps', 'in_flight', 'by', 'at'";
    private static final String NEXT_VERSION = ""
            + "local t = redis.call('TIME')\n"
            + "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
            + "local last = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0\n"
            + "local v = math.max(last + 1, now)\n";
    /** ARGV: rps, in_flight, by. Writes the record when absent; returns it. */
    private static final String SEED = ""
            + "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
            + NEXT_VERSION
            + "  redis.call('HSET', KEYS[1], 'version', string.format('%.0f', v), 'rps', ARGV[1], 'in_flight', ARGV[2],"
            + " 'by', ARGV[3], 'at', string.format('%.0f', now))\n"
            + "end\n"
            + "return redis.call('HMGET', KEYS[1], " + FIELDS + ")\n";
    /** ARGV: expected version ('' for any), rps, in_flight, by. Returns {applied (1 or 0), the record's fields...}. */
    private static final String SET = ""
            + "local current = redis.call('HGET', KEYS[1], 'version') or 'none'\n"
            + "if ARGV[1] ~= '' and ARGV[1] ~= current then\n"
            + "  local r = redis.call('HMGET', KEYS[1], " + FIELDS + ")\n"
            + "  table.insert(r, 1, 0)\n"
            + "  return r\n"
            + "end\n"
            + NEXT_VERSION
            + "redis.call('HSET', KEYS[1], 'version', string.format('%.0f', v), 'rps', ARGV[2], 'in_flight', ARGV[3],"
            + " 'by', ARGV[4], 'at', string.format('%.0f', now))\n"
            + "local r = redis.call('HMGET', KEYS[1], " + FIELDS + ")\n"
            + "table.insert(r, 1, 1)\n"
            + "return r\n";

    private final String key;

    public LimitsRecord(String clusterName) {
        this.key = key(clusterName);
    }

    public static String key(String clusterName) {
        return "sluice:limits:fleet:" + clusterName;
    }

    public String key() {
        return key;
    }

    /**
     * The record, written from {@code seed} first when there is none.
     *
     * @throws BadRecord when the record holds something that is not a pair of limits (edited by hand)
     */
    public FleetLimits readOrSeed(RedisCalls redis, int maxPerSecond, int maxInFlight, String seededBy) {
        List<?> fields = redis.withJedis(j -> (List<?>) j.eval(SEED, List.of(key),
                List.of(Integer.toString(maxPerSecond), Integer.toString(maxInFlight), FleetLimits.SEEDED_BY + seededBy)));
        return parse(fields, 0);
    }

    /** The record, or null when there is none. */
    public FleetLimits read(Jedis jedis) {
        List<String> fields = jedis.hmget(key, "version", "rps", "in_flight", "by", "at");
        return fields.get(0) == null ? null : parse(fields, 0);
    }

    /** What a change came to: applied, or refused because the record was at another version; the record after it. */
    public record Change(boolean applied, FleetLimits record) {
    }

    /**
     * Sets the limits, if the record is still at {@code expectedVersion} (any version when null; none when 0).
     *
     * @throws IllegalArgumentException when a limit is out of bounds (nothing is written)
     */
    public Change set(Jedis jedis, Long expectedVersion, int maxPerSecond, int maxInFlight, String by) {
        FleetLimits.check(maxPerSecond, maxInFlight);
        if (by == null || by.isBlank() || by.length() > 200) {
            throw new IllegalArgumentException("who changes the limits must be named in 1 to 200 characters, but was '"
                    + by + "'");
        }
        String expected = expectedVersion == null ? "" : expectedVersion == 0 ? "none" : Long.toString(expectedVersion);
        List<?> reply = (List<?>) jedis.eval(SET, List.of(key), List.of(expected, Integer.toString(maxPerSecond),
                Integer.toString(maxInFlight), by));
        boolean applied = ((Long) reply.get(0)) == 1L;
        return new Change(applied, reply.get(1) == null ? null : parse(reply, 1));
    }

    private FleetLimits parse(List<?> fields, int from) {
        String version = text(fields.get(from));
        String rps = text(fields.get(from + 1));
        String inFlight = text(fields.get(from + 2));
        String by = text(fields.get(from + 3));
        String at = text(fields.get(from + 4));
        long v = number("version", version, 1, Long.MAX_VALUE);
        int r = (int) number("rps", rps, 1, FleetLimits.MAX_PER_SECOND);
        int f = (int) number("in_flight", inFlight, 1, FleetLimits.MAX_IN_FLIGHT);
        return new FleetLimits(v, r, f, by == null ? "unknown" : by, at == null ? 0 : number("at", at, 0, Long.MAX_VALUE));
    }

    private long number(String field, String value, long min, long max) {
        try {
            long n = Long.parseLong(value);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new BadRecord("the fleet's limits record " + key + " has " + field + " = '" + value
                + "', which is not a whole number between " + min + " and " + max + "; set the limits again with "
                + "`sluice limits set`");
    }

    private static String text(Object o) {
        return o == null ? null : o instanceof byte[] b ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : o.toString();
    }

    /** The record holds something that is not a pair of limits. */
    public static final class BadRecord extends RuntimeException {
        BadRecord(String message) {
            super(message);
        }
    }
}
