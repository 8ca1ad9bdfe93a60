package dev.sluice.worker.queue.redis;

import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.common.job.Job;
import dev.sluice.common.job.JobCodec;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.Completion.DeadLetter;
import redis.clients.jedis.params.XTrimParams;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The dead-letter entry format shared by both queue modes: the job's original fields, untouched, plus
 * {@code dead.*} fields that say why, when and where it died. Replay strips the {@code dead.*} fields.
 */
public final class DeadLetters {
    public static final String PREFIX = "dead.";
    public static final String VERSION = "1";

    private DeadLetters() {
    }

    /** At most this many of the job's own fields are kept in its dead letter. */
    public static final int MAX_FIELDS = JobCodec.MAX_FIELDS;
    /** A dead letter keeps at most this many bytes of the job's own fields; the rest is summed up by its size and hash. */
    public static final int MAX_KEPT_BYTES = 16 * 1024;

    /**
     * Field/value pairs as exact bytes, flattened for a script's ARGV, bounded whatever the producer wrote:
     * <ul>
     *   <li>bytes that are not UTF-8 are kept as they are ({@link Delivery#exact()});</li>
     *   <li>an entry not read whole ({@link Delivery#unread()}), or one with more than {@link #MAX_FIELDS} fields,
     *       keeps a prefix of each field (at most {@link #MAX_KEPT_BYTES} in all), its size, its field count and a
     *       SHA-256 (of each unread field, or of the whole), and is marked {@code dead.truncated}: it cannot be
     *       replayed;</li>
     *   <li>anything else (a job read whole, at most {@code queue.max_job_bytes}) is copied whole.</li>
     * </ul>
     */
    public static List<byte[]> fields(DeadLetter dead, String nodeId, String mode, Clock clock) {
        Delivery d = dead.delivery();
        List<byte[]> out = new ArrayList<>();
        Map<String, String> extra = new LinkedHashMap<>();
        if (d.exact() != null) {
            for (int i = 0; i + 1 < d.exact().size(); i += 2) {
                String name = new String(d.exact().get(i), StandardCharsets.UTF_8);
                if (!name.startsWith(PREFIX) && !name.equals("attempts")) {
                    out.add(d.exact().get(i));
                    out.add(d.exact().get(i + 1));
                }
            }
        } else {
            Map<String, String> raw = d.raw();
            long rawBytes = 0;
            for (Map.Entry<String, String> e : raw.entrySet()) {
                rawBytes += utf8Length(e.getKey()) + utf8Length(e.getValue());
            }
            // A job read whole is at most queue.max_job_bytes and is kept whole, so it can be replayed; only what
            // could not be a job (unread, or wider than a job may be) is cut.
            boolean truncated = d.unread() != null || raw.size() > MAX_FIELDS;
            Map<String, String> kept = new LinkedHashMap<>();
            if (!truncated) {
                kept.putAll(raw);
            } else {
                int budget = MAX_KEPT_BYTES;
                for (String first : List.of("key", "id", "type")) {
                    if (raw.containsKey(first)) {
                        String value = prefix(raw.get(first), 1024);
                        kept.put(first, value);
                        budget -= utf8Length(first) + utf8Length(value);
                    }
                }
                for (Map.Entry<String, String> e : raw.entrySet()) {
                    if (kept.size() >= MAX_FIELDS || budget <= 0 || e.getKey().startsWith(PREFIX) || kept.containsKey(e.getKey())) {
                        continue;
                    }
                    String name = prefix(e.getKey(), 256);
                    String value = prefix(e.getValue(), Math.min(budget, 1024));
                    kept.put(name, value);
                    budget -= utf8Length(name) + utf8Length(value);
                }
                extra.put("dead.truncated", "1");
                if (d.unread() != null) {
                    extra.put("dead.fields", Integer.toString(d.unread().fields()));
                    extra.put("dead.bytes", Long.toString(d.unread().bytes()));
                    d.unread().sha256ByField().forEach((field, hash) -> extra.put("dead.sha256." + prefix(field, 64), hash));
                    if (d.unread().sha256() != null) {
                        extra.put("dead.sha256", d.unread().sha256());
                    }
                } else {
                    extra.put("dead.fields", Integer.toString(raw.size()));
                    extra.put("dead.bytes", Long.toString(rawBytes));
                    extra.put("dead.sha256", sha256(raw));
                }
            }
            kept.remove("attempts");
            kept.forEach((k, v) -> {
                out.add(k.getBytes(StandardCharsets.UTF_8));
                out.add(v.getBytes(StandardCharsets.UTF_8));
            });
        }
        extra.put("dead.v", VERSION);
        extra.put("dead.job_id", jobId(d));
        extra.put("dead.kind", dead.kind().tag());
        extra.put("dead.reason", dead.reason() == null ? "" : dead.reason());
        extra.put("dead.attempts", Integer.toString(dead.attempts()));
        extra.put("dead.deliveries", Long.toString(d.deliveries()));
        extra.put("dead.node", nodeId);
        extra.put("dead.mode", mode);
        extra.put("dead.at", Long.toString(clock.millis()));
        extra.forEach((k, v) -> {
            out.add(k.getBytes(StandardCharsets.UTF_8));
            out.add(v.getBytes(StandardCharsets.UTF_8));
        });
        return out;
    }

    /** The job's id, or what it would have been, for a job that could not be parsed (stream fields id, type, key). */
    private static String jobId(Delivery d) {
        if (d.job() != null) {
            return d.job().id();
        }
        String id = d.raw().get("id");
        if (id != null && !id.isEmpty()) {
            return prefix(id, 1024);
        }
        String key = d.raw().get("key");
        if (key == null || key.isEmpty()) {
            return "";
        }
        String type = d.raw().get("type");
        return prefix((type == null || type.isEmpty() ? Job.DEFAULT_TYPE : type) + ":" + key, 1024);
    }

    /** Strings as UTF-8 bytes, for a binary script call. */
    public static List<byte[]> utf8(String... values) {
        List<byte[]> out = new ArrayList<>(values.length);
        for (String v : values) {
            out.add(v.getBytes(StandardCharsets.UTF_8));
        }
        return out;
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

    /** Removes dead letters older than {@code retentionDays}; returns how many. */
    public static long trim(RedisConnections redis, String deadLetter, Clock clock, int retentionDays) {
        long minId = clock.millis() - retentionMs(retentionDays);
        return redis.withJedis(j -> j.xtrim(deadLetter, XTrimParams.xTrimParams().minId(Long.toString(minId))));
    }

    public static long retentionMs(int retentionDays) {
        return java.time.Duration.ofDays(retentionDays).toMillis();
    }
}
