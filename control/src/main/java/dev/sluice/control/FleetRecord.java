package dev.sluice.control;

import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XAddParams;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fleet's record in Redis: one hash per cluster, {@code sluice:limits:fleet:<cluster name>}, with the live Hub
 * limits ({@code limits_version}, {@code rps}, {@code in_flight}, {@code by}, {@code at}) and the pause
 * ({@code paused}, {@code paused_by}, {@code paused_at}, {@code pause_reason}), and a {@code version} that goes up
 * with every change of either. Every node, the CLI, a node's admin endpoint and the coordinator go through it; nodes
 * read it five times a second and follow it.
 *
 * <ul>
 *   <li><b>Seeded only when absent.</b> A node's configuration ({@code hub.max_requests_per_second},
 *       {@code hub.max_concurrent_connections}) writes the limits only if there are none; a node whose file says
 *       otherwise follows the record and says so.</li>
 *   <li><b>Limits change by compare-and-set.</b> A change names the limits version it was made against and is
 *       refused when the limits moved meanwhile, so two operators never overwrite each other unseen. Pause and resume
 *       are idempotent and need none.</li>
 *   <li><b>Versions only go up.</b> A new version is Redis's time in ms, or one more than the last when that is
 *       later: a record that Redis lost (a restart from an older snapshot) and that a node seeds again still gets a
 *       newer version than any the fleet's store knows, so the store adopts it.</li>
 *   <li><b>Every change is audited</b> in the stream {@code sluice:audit:<cluster name>} (who, what, when, the new
 *       version), written by the same script.</li>
 * </ul>
 * Each script writes only after all its reads and checks, so a failure half way changes nothing.
 */
public final class FleetRecord {
    /** Audit entries kept (approximately; older ones are trimmed). */
    public static final int AUDIT_KEEP = 10_000;
    private static final String FIELDS = "'version', 'limits_version', 'rps', 'in_flight', 'by', 'at', 'paused', "
            + "'paused_by', 'paused_at', 'pause_reason'";
    /** A record written before the pause existed has no limits_version: its version is the limits'. */
    private static final String UPGRADE = ""
            + "if redis.call('HEXISTS', KEYS[1], 'rps') == 1 and redis.call('HEXISTS', KEYS[1], 'limits_version') == 0 then\n"
            + "  redis.call('HSET', KEYS[1], 'limits_version', redis.call('HGET', KEYS[1], 'version'))\n"
            + "end\n";
    private static final String NEXT_VERSION = ""
            + "local t = redis.call('TIME')\n"
            + "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
            + "local last = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0\n"
            + "local v = math.max(last + 1, now)\n"
            + "local vs = string.format('%.0f', v)\n"
            + "local nows = string.format('%.0f', now)\n";
    private static final String AUDIT = "redis.call('XADD', KEYS[2], 'MAXLEN', '~', '" + AUDIT_KEEP + "', '*', "
            + "'at', nows, 'by', %s, 'action', %s, 'detail', %s, 'version', vs)\n";
    private static final String RETURN = ""
            + "local r = redis.call('HMGET', KEYS[1], " + FIELDS + ")\n"
            + "table.insert(r, 1, applied)\n"
            + "return r\n";
    /** ARGV: rps, in_flight, by. Writes the limits when there are none; returns the record. */
    private static final String SEED = UPGRADE
            + "local applied = 0\n"
            + "if redis.call('HEXISTS', KEYS[1], 'rps') == 0 then\n"
            + NEXT_VERSION
            + "  redis.call('HSET', KEYS[1], 'version', vs, 'limits_version', vs, 'rps', ARGV[1], 'in_flight', ARGV[2],"
            + " 'by', ARGV[3], 'at', nows)\n"
            + "  " + AUDIT.formatted("ARGV[3]", "'seed-limits'", "ARGV[1] .. ' per second, ' .. ARGV[2] .. ' in flight'")
            + "  applied = 1\n"
            + "end\n"
            + RETURN;
    /** ARGV: expected limits version ('' for any, 'none' for none), rps, in_flight, by. */
    private static final String SET_LIMITS = ""
            + "local applied = 0\n"
            + "local current = redis.call('HGET', KEYS[1], 'limits_version')"
            + " or (redis.call('HEXISTS', KEYS[1], 'rps') == 1 and redis.call('HGET', KEYS[1], 'version')) or 'none'\n"
            + "if ARGV[1] == '' or ARGV[1] == current then\n"
            + NEXT_VERSION
            + "  redis.call('HSET', KEYS[1], 'version', vs, 'limits_version', vs, 'rps', ARGV[2], 'in_flight', ARGV[3],"
            + " 'by', ARGV[4], 'at', nows)\n"
            + "  " + AUDIT.formatted("ARGV[4]", "'set-limits'", "ARGV[2] .. ' per second, ' .. ARGV[3] .. ' in flight'")
            + "  applied = 1\n"
            + "end\n"
            + RETURN;
    /** ARGV: '1' to pause or '0' to resume, by, reason. Changes nothing when the fleet is already so. */
    private static final String SET_PAUSE = UPGRADE
            + "local applied = 0\n"
            + "if (redis.call('HGET', KEYS[1], 'paused') or '0') ~= ARGV[1] then\n"
            + NEXT_VERSION
            + "  redis.call('HSET', KEYS[1], 'version', vs, 'paused', ARGV[1], 'paused_by', ARGV[2], 'paused_at', nows,"
            + " 'pause_reason', ARGV[3])\n"
            + "  " + AUDIT.formatted("ARGV[2]", "(ARGV[1] == '1' and 'pause' or 'resume')", "ARGV[3]")
            + "  applied = 1\n"
            + "end\n"
            + RETURN;

    private final String key;
    private final String auditKey;

    public FleetRecord(String clusterName) {
        this.key = key(clusterName);
        this.auditKey = auditKey(clusterName);
    }

    public static String key(String clusterName) {
        return "sluice:limits:fleet:" + clusterName;
    }

    public static String auditKey(String clusterName) {
        return "sluice:audit:" + clusterName;
    }

    public String key() {
        return key;
    }

    public String auditKey() {
        return auditKey;
    }

    /**
     * The record, its limits written from a node's configuration first when there are none.
     *
     * @throws BadRecord when the record holds something that is not a pair of limits or a pause (edited by hand)
     */
    public FleetState readOrSeed(Jedis jedis, int maxPerSecond, int maxInFlight, String seededBy) {
        FleetLimits.check(maxPerSecond, maxInFlight);
        List<?> reply = (List<?>) jedis.eval(SEED, List.of(key, auditKey), List.of(Integer.toString(maxPerSecond),
                Integer.toString(maxInFlight), FleetLimits.SEEDED_BY + seededBy));
        return parse(reply, 1);
    }

    /** The record, or null when there is none. Its limits are null while only a pause was set. */
    public FleetState read(Jedis jedis) {
        List<String> fields = jedis.hmget(key, "version", "limits_version", "rps", "in_flight", "by", "at", "paused",
                "paused_by", "paused_at", "pause_reason");
        return fields.get(0) == null ? null : parse(fields, 0);
    }

    /**
     * The pause alone, for a node whose record's limits are unreadable (edited by hand): the pause still holds. A pause
     * field that is itself unreadable counts as paused, the safe side.
     */
    public Pause readPause(Jedis jedis) {
        List<String> f = jedis.hmget(key, "paused", "paused_by", "paused_at", "pause_reason");
        if (f.get(0) == null) {
            return Pause.NEVER;
        }
        long at;
        try {
            at = f.get(2) == null ? 0 : Long.parseLong(f.get(2));
        } catch (NumberFormatException e) {
            at = 0;
        }
        return new Pause(!f.get(0).equals("0"), f.get(1) == null ? "unknown" : f.get(1), at,
                f.get(3) == null ? "" : f.get(3));
    }

    /** What a change came to: applied, or not (the limits were at another version; the pause was already so). */
    public record Change(boolean applied, FleetState record) {
        /** The limits after the change (null when there are none yet). */
        public FleetLimits limits() {
            return record == null ? null : record.limits();
        }
    }

    /**
     * Sets the limits, if they are still at {@code expectedVersion} (any version when null; none when 0).
     *
     * @throws IllegalArgumentException when a limit is out of bounds or {@code by} is not a name (nothing is written)
     */
    public Change setLimits(Jedis jedis, Long expectedVersion, int maxPerSecond, int maxInFlight, String by) {
        FleetLimits.check(maxPerSecond, maxInFlight);
        checkName(by);
        String expected = expectedVersion == null ? "" : expectedVersion == 0 ? "none" : Long.toString(expectedVersion);
        List<?> reply = (List<?>) jedis.eval(SET_LIMITS, List.of(key, auditKey), List.of(expected,
                Integer.toString(maxPerSecond), Integer.toString(maxInFlight), by));
        return new Change(((Long) reply.get(0)) == 1L, parse(reply, 1));
    }

    /**
     * Pauses ({@code paused}) or resumes the fleet; not applied when it is already so.
     *
     * @throws IllegalArgumentException when {@code by} is not a name or the reason is over 500 characters
     */
    public Change setPaused(Jedis jedis, boolean paused, String by, String reason) {
        checkName(by);
        String why = reason == null ? "" : reason.strip();
        if (why.length() > 500) {
            throw new IllegalArgumentException("the reason for a pause must be at most 500 characters, but was "
                    + why.length());
        }
        List<?> reply = (List<?>) jedis.eval(SET_PAUSE, List.of(key, auditKey), List.of(paused ? "1" : "0", by, why));
        return new Change(((Long) reply.get(0)) == 1L, parse(reply, 1));
    }

    /** Writes an entry of the audit stream for a change made elsewhere (a dead-letter replay). */
    public void audit(Jedis jedis, String by, String action, String detail) {
        checkName(by);
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("at", Long.toString(redisTimeMs(jedis)));
        fields.put("by", by);
        fields.put("action", action);
        fields.put("detail", detail);
        fields.put("version", "");
        jedis.xadd(auditKey, XAddParams.xAddParams().maxLen(AUDIT_KEEP).approximateTrimming(), fields);
    }

    /** One entry of the audit stream. */
    public record AuditEntry(String id, long atMs, String by, String action, String detail) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("at", java.time.Instant.ofEpochMilli(atMs).toString());
            m.put("by", by);
            m.put("action", action);
            m.put("detail", detail);
            return m;
        }
    }

    /** The newest {@code count} audit entries, newest first. */
    public List<AuditEntry> recentAudit(Jedis jedis, int count) {
        List<AuditEntry> out = new ArrayList<>();
        for (var e : jedis.xrevrange(auditKey, (StreamEntryID) null, null, count)) {
            Map<String, String> f = e.getFields();
            long at;
            try {
                at = Long.parseLong(f.getOrDefault("at", "0"));
            } catch (NumberFormatException ex) {
                at = 0;
            }
            out.add(new AuditEntry(e.getID().toString(), at, f.getOrDefault("by", "?"), f.getOrDefault("action", "?"),
                    f.getOrDefault("detail", "")));
        }
        return out;
    }

    private static long redisTimeMs(Jedis jedis) {
        List<String> t = jedis.time();
        return Long.parseLong(t.get(0)) * 1000 + Long.parseLong(t.get(1)) / 1000;
    }

    private static void checkName(String by) {
        if (by == null || by.isBlank() || by.length() > 200) {
            throw new IllegalArgumentException("who changes the fleet's record must be named in 1 to 200 characters, "
                    + "but was '" + by + "'");
        }
    }

    private FleetState parse(List<?> f, int from) {
        String version = text(f.get(from));
        if (version == null) {
            return null;
        }
        long v = number("version", version, 1, Long.MAX_VALUE);
        FleetLimits limits = null;
        String rps = text(f.get(from + 2));
        if (rps != null) {
            String lv = text(f.get(from + 1));
            long limitsVersion = lv == null ? v : number("limits_version", lv, 1, Long.MAX_VALUE);
            int r = (int) number("rps", rps, 1, FleetLimits.MAX_PER_SECOND);
            int inFlight = (int) number("in_flight", text(f.get(from + 3)), 1, FleetLimits.MAX_IN_FLIGHT);
            String by = text(f.get(from + 4));
            String at = text(f.get(from + 5));
            limits = new FleetLimits(limitsVersion, r, inFlight, by == null ? "unknown" : by,
                    at == null ? 0 : number("at", at, 0, Long.MAX_VALUE));
        }
        String paused = text(f.get(from + 6));
        Pause pause = Pause.NEVER;
        if (paused != null) {
            if (!paused.equals("0") && !paused.equals("1")) {
                throw bad("paused", paused, "0 or 1");
            }
            String by = text(f.get(from + 7));
            String at = text(f.get(from + 8));
            String reason = text(f.get(from + 9));
            pause = new Pause(paused.equals("1"), by == null ? "unknown" : by,
                    at == null ? 0 : number("paused_at", at, 0, Long.MAX_VALUE), reason == null ? "" : reason);
        }
        return new FleetState(v, limits, pause);
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
        throw bad(field, value, "a whole number between " + min + " and " + max);
    }

    private BadRecord bad(String field, String value, String rule) {
        return new BadRecord("the fleet's record " + key + " has " + field + " = '" + value + "', which is not " + rule
                + "; set the limits again with `sluice limits set` (and the pause with `sluice pause` or "
                + "`sluice resume`)");
    }

    private static String text(Object o) {
        return o == null ? null : o instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : o.toString();
    }

    /** The record holds something that is not a pair of limits or a pause. */
    public static final class BadRecord extends RuntimeException {
        BadRecord(String message) {
            super(message);
        }
    }
}
