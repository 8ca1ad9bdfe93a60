package dev.sluice.worker.queue;

import dev.sluice.common.job.JobCodec;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.Completion.DeadLetter;
import redis.clients.jedis.params.XTrimParams;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Collection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The dead-letter entry format shared by both queue modes: the job's original fields, untouched, plus
 * {@code dead.*} fields that say why, when and where it died. Replay strips the {@code dead.*} fields.
 */
final class DeadLetters {
    static final String PREFIX = "dead.";
    static final String VERSION = "1";

    private DeadLetters() {
    }

    /** At most this many of the job's own fields are kept in its dead letter. */
    static final int MAX_FIELDS = JobCodec.MAX_FIELDS;
    /** A dead letter keeps at most this many bytes of the job's own fields; the rest is summed up by its size and hash. */
    static final int MAX_KEPT_BYTES = 16 * 1024;

    /**
     * Field/value pairs, flattened for a script's ARGV. The job's own fields are copied when they are small; a job
     * with more than {@link #MAX_FIELDS} fields or more than {@link #MAX_KEPT_BYTES} bytes keeps a prefix of each
     * field that fits, its size, its field count and a SHA-256 of all its bytes, and is marked
     * {@code dead.truncated} (it cannot be replayed), so the dead-letter stream and the script's argument list stay
     * bounded whatever a producer wrote.
     */
    static List<String> fields(DeadLetter dead, String nodeId, String mode, Clock clock) {
        Map<String, String> raw = dead.delivery().raw();
        long rawBytes = 0;
        for (Map.Entry<String, String> e : raw.entrySet()) {
            rawBytes += utf8Length(e.getKey()) + utf8Length(e.getValue());
        }
        Map<String, String> f = new LinkedHashMap<>();
        boolean truncated = raw.size() > MAX_FIELDS || rawBytes > MAX_KEPT_BYTES;
        if (!truncated) {
            f.putAll(raw);
        } else {
            int budget = MAX_KEPT_BYTES;
            for (Map.Entry<String, String> e : raw.entrySet()) {
                if (f.size() >= MAX_FIELDS || budget <= 0 || e.getKey().startsWith(PREFIX)) {
                    continue;
                }
                String value = prefix(e.getValue(), Math.min(budget, 1024));
                f.put(e.getKey(), value);
                budget -= utf8Length(e.getKey()) + utf8Length(value);
            }
            f.put("dead.truncated", "1");
            f.put("dead.fields", Integer.toString(raw.size()));
            f.put("dead.bytes", Long.toString(rawBytes));
            f.put("dead.sha256", sha256(raw));
        }
        f.remove("attempts");
        f.put("dead.v", VERSION);
        f.put("dead.job_id", dead.delivery().job() != null ? dead.delivery().job().id() : "");
        f.put("dead.kind", dead.kind().tag());
        f.put("dead.reason", dead.reason() == null ? "" : dead.reason());
        f.put("dead.attempts", Integer.toString(dead.attempts()));
        f.put("dead.deliveries", Long.toString(dead.delivery().deliveries()));
        f.put("dead.node", nodeId);
        f.put("dead.mode", mode);
        f.put("dead.at", Long.toString(clock.millis()));
        List<String> flat = new ArrayList<>(f.size() * 2);
        f.forEach((k, v) -> {
            flat.add(k);
            flat.add(v);
        });
        return flat;
    }

    private static long utf8Length(String s) {
        return s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** The longest prefix of {@code s} of at most {@code maxBytes} UTF-8 bytes, cut between characters. */
    private static String prefix(String s, int maxBytes) {
        if (s == null) {
            return "";
        }
        if (utf8Length(s) <= maxBytes) {
            return s;
        }
        int bytes = 0;
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + n > maxBytes) {
                break;
            }
            bytes += n;
            i += Character.charCount(cp);
        }
        return s.substring(0, i);
    }

    private static String sha256(Map<String, String> raw) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            raw.forEach((k, v) -> {
                digest.update(k.getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
                digest.update(v == null ? new byte[0] : v.getBytes(StandardCharsets.UTF_8));
                digest.update((byte) 0);
            });
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    static DeadLetterEntry parse(String id, Map<String, String> fields) {
        Map<String, String> original = new LinkedHashMap<>();
        fields.forEach((k, v) -> {
            if (!k.startsWith(PREFIX)) {
                original.put(k, v);
            }
        });
        return new DeadLetterEntry(id, fields.getOrDefault("dead.job_id", ""), fields.getOrDefault("dead.kind", ""),
                fields.getOrDefault("dead.reason", ""), parseInt(fields.get("dead.attempts")),
                fields.getOrDefault("dead.node", ""), parseLong(fields.get("dead.at")), original);
    }

    /** The newest {@code count} entries of the dead-letter stream, newest first. */
    static List<DeadLetterEntry> newest(RedisConnections redis, String deadLetter, int count) {
        return redis.withJedis(j -> j.xrevrange(deadLetter, "+", "-", count).stream()
                .map(e -> parse(e.getID().toString(), e.getFields()))
                .toList());
    }

    /** Runs a mode's replay script for each id; returns how many were put back. */
    static int replay(RedisConnections redis, String script, String deadLetter, String queue, Collection<String> ids) {
        return redis.withJedis(j -> {
            int n = 0;
            for (String id : ids) {
                if (((Long) j.eval(script, List.of(deadLetter, queue), List.of(id))) == 1L) {
                    n++;
                }
            }
            return n;
        });
    }

    /** Removes dead letters older than {@code retentionDays}; returns how many. */
    static long trim(RedisConnections redis, String deadLetter, Clock clock, int retentionDays) {
        long minId = clock.millis() - retentionMs(retentionDays);
        return redis.withJedis(j -> j.xtrim(deadLetter, XTrimParams.xTrimParams().minId(Long.toString(minId))));
    }

    static long retentionMs(int retentionDays) {
        return java.time.Duration.ofDays(retentionDays).toMillis();
    }

    private static int parseInt(String s) {
        try {
            return s == null ? 0 : Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long parseLong(String s) {
        try {
            return s == null ? 0 : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
