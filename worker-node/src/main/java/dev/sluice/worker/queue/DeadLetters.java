package dev.sluice.worker.queue;

import dev.sluice.worker.queue.Completion.DeadLetter;

import dev.sluice.worker.pool.RedisConnections;
import redis.clients.jedis.params.XTrimParams;

import java.time.Clock;
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

    /** Field/value pairs, flattened for a script's ARGV. */
    static List<String> fields(DeadLetter dead, String nodeId, String mode, Clock clock) {
        Map<String, String> f = new LinkedHashMap<>(dead.delivery().raw());
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
