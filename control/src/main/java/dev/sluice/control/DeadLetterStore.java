package dev.sluice.control;

import dev.sluice.common.config.QueueConfig;
import dev.sluice.common.config.QueueMode;
import dev.sluice.common.job.JobCodec;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.resps.StreamEntry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reading, replaying and discarding the dead letters of a queue ({@code queue.dead_letter}), for the CLI, the queue
 * adapters and the coordinator alike. A replay puts the original job back on the queue (stream or list, as
 * {@code queue.mode} says) with its attempts reset and removes the dead letter, in one script. Letters that cannot
 * be replayed are left where they are and said why: one that keeps only a prefix of an entry too large to read, one
 * that holds no job for this queue mode, and a job that does not parse (malformed, not UTF-8: it would only die
 * again).
 */
public final class DeadLetterStore {
    static final String PREFIX = "dead.";
    /** How many entries one page looks through for letters of one kind, at most. */
    static final int MAX_SCAN = 5_000;

    /**
     * A replayed letter that was counted dead for its backfill ({@code dead.backfill}, written by the script that
     * dead-lettered it) leaves that count for {@code replayed}; it is counted again when it ends ({@link Backfills}).
     * A letter counted nowhere (no backfill, or dead-lettered by an older node) takes nothing back.
     */
    private static final String UNCOUNT = """
            local function uncount(fields)
              for i = 1, #fields, 2 do
                if fields[i] == 'dead.backfill' then
                  local k = fields[i + 1]
                  if redis.pcall('EXISTS', k) == 1 then
                    redis.pcall('HINCRBY', k, 'dead', -1)
                    redis.pcall('HINCRBY', k, 'replayed', 1)
                  end
                  return
                end
              end
            end
            """;

    /** KEYS: dead, stream. ARGV: dead-letter id. Puts the original fields back with attempts reset. */
    public static final String STREAM_REPLAY = UNCOUNT + """
            local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
            if #e == 0 then return 0 end
            local fields = e[1][2]
            local out = {}
            for i = 1, #fields, 2 do
              if fields[i] == 'dead.truncated' then return -2 end
            end
            for i = 1, #fields, 2 do
              local k = fields[i]
              if string.sub(k, 1, 5) ~= 'dead.' and k ~= 'attempts' then
                table.insert(out, k); table.insert(out, fields[i + 1])
              end
            end
            if #out == 0 then return -1 end
            redis.call('XADD', KEYS[2], '*', unpack(out))
            redis.call('XDEL', KEYS[1], ARGV[1])
            uncount(fields)
            return 1
            """;

    /** KEYS: dead, list. ARGV: dead-letter id. Pushes the original element back, its attempts reset. */
    public static final String LIST_REPLAY = UNCOUNT + """
            local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
            if #e == 0 then return 0 end
            local fields = e[1][2]
            for i = 1, #fields, 2 do
              if fields[i] == 'dead.truncated' then return -2 end
            end
            for i = 1, #fields, 2 do
              if fields[i] == 'element' then
                local element = fields[i + 1]
                local ok, job = pcall(cjson.decode, element)
                if ok and type(job) == 'table' and job.attempts ~= nil then
                  job.attempts = 0
                  element = cjson.encode(job)
                end
                redis.call('LPUSH', KEYS[2], element)
                redis.call('XDEL', KEYS[1], ARGV[1])
                uncount(fields)
                return 1
              end
            end
            return -1
            """;

    /** What became of one replay. */
    public enum Outcome {
        REPLAYED("replayed"),
        GONE("no such dead letter (replayed or discarded meanwhile)"),
        NOT_A_JOB("it holds no job for this queue mode"),
        TRUNCATED("it keeps only a prefix of an entry too large to read"),
        BAD_JOB("its job does not parse (malformed or not UTF-8): it would only die again");

        private final String why;

        Outcome(String why) {
            this.why = why;
        }

        public String why() {
            return why;
        }
    }

    private final String deadLetter;
    private final String queue;
    private final boolean list;
    private final JobCodec codec;

    public DeadLetterStore(QueueConfig config) {
        this.deadLetter = config.deadLetter();
        this.list = config.mode() == QueueMode.LIST;
        this.queue = config.key();
        this.codec = new JobCodec(config.maxJobBytes());
    }

    public String key() {
        return deadLetter;
    }

    /** The newest {@code count} dead letters, newest first. */
    public List<DeadLetterEntry> newest(Jedis jedis, int count) {
        return page(jedis, null, count, null);
    }

    /**
     * Up to {@code count} dead letters older than {@code before} (an entry id; null: from the newest), newest first,
     * of {@code kind} only when it is not null (looking through at most {@value #MAX_SCAN} entries).
     */
    public List<DeadLetterEntry> page(Jedis jedis, String before, int count, String kind) {
        List<DeadLetterEntry> out = new ArrayList<>();
        String end = before == null ? "+" : "(" + before;
        int scanned = 0;
        while (out.size() < count && scanned < MAX_SCAN) {
            List<StreamEntry> entries = jedis.xrevrange(deadLetter, end, "-", Math.max(count, 100));
            if (entries.isEmpty()) {
                break;
            }
            scanned += entries.size();
            for (StreamEntry e : entries) {
                DeadLetterEntry d = parse(e.getID().toString(), e.getFields());
                if (kind == null || kind.equals(d.kind())) {
                    out.add(d);
                    if (out.size() == count) {
                        break;
                    }
                }
            }
            if (entries.size() < Math.max(count, 100)) {
                break;
            }
            end = "(" + entries.getLast().getID();
        }
        return out;
    }

    /** Counts of the dead letters by kind (reads the whole stream; it is trimmed by age). */
    public Map<String, Long> countsByKind(Jedis jedis) {
        Map<String, Long> counts = new LinkedHashMap<>();
        StreamEntryID start = null;
        while (true) {
            List<StreamEntry> entries = jedis.xrange(deadLetter, start == null ? "-" : "(" + start, "+", 1000);
            for (StreamEntry e : entries) {
                counts.merge(e.getFields().getOrDefault("dead.kind", ""), 1L, Long::sum);
            }
            if (entries.size() < 1000) {
                return counts;
            }
            start = entries.getLast().getID();
        }
    }

    /** One dead letter, or null. */
    public DeadLetterEntry find(Jedis jedis, String id) {
        List<StreamEntry> e = jedis.xrange(deadLetter, id, id, 1);
        return e.isEmpty() ? null : parse(e.getFirst().getID().toString(), e.getFirst().getFields());
    }

    /** Replays one dead letter, unless it cannot be. */
    public Outcome replay(Jedis jedis, String id) {
        DeadLetterEntry entry = find(jedis, id);
        if (entry == null) {
            return Outcome.GONE;
        }
        if (entry.truncated()) {
            return Outcome.TRUNCATED;
        }
        if (!parses(entry)) {
            return Outcome.BAD_JOB;
        }
        long r = (Long) jedis.eval(list ? LIST_REPLAY : STREAM_REPLAY, List.of(deadLetter, queue), List.of(id));
        return r == 1 ? Outcome.REPLAYED : r == 0 ? Outcome.GONE : r == -2 ? Outcome.TRUNCATED : Outcome.NOT_A_JOB;
    }

    /** Replays each of {@code ids}; what became of them, in the order of {@link Outcome}, each id once. */
    public Map<Outcome, List<String>> replay(Jedis jedis, java.util.Collection<String> ids) {
        Map<Outcome, List<String>> out = new java.util.EnumMap<>(Outcome.class);
        for (String id : ids) {
            out.computeIfAbsent(replay(jedis, id), o -> new ArrayList<>()).add(id);
        }
        return out;
    }

    /** Removes one dead letter for good; false when it was not there. */
    public boolean discard(Jedis jedis, String id) {
        return jedis.xdel(deadLetter, new StreamEntryID(id)) == 1;
    }

    /** What a replay of many came to. */
    public record Tally(int replayed, Map<Outcome, Integer> skipped, List<String> skippedIds) {
        public int skippedCount() {
            return skipped.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    /**
     * Replays every dead letter there when it starts (of {@code kind} only, when not null), oldest first, in batches
     * of {@code batch}, telling {@code progress} after each; letters that cannot be replayed are skipped and counted.
     * Letters dead-lettered meanwhile are left for another run.
     */
    public Tally replayAll(Jedis jedis, String kind, int batch, Consumer<Tally> progress) {
        List<StreamEntry> newest = jedis.xrevrange(deadLetter, "+", "-", 1);
        Map<Outcome, Integer> skipped = new java.util.EnumMap<>(Outcome.class);
        List<String> skippedIds = new ArrayList<>();
        int replayed = 0;
        if (newest.isEmpty()) {
            return new Tally(0, skipped, skippedIds);
        }
        String last = newest.getFirst().getID().toString();
        String from = "-";
        while (true) {
            List<StreamEntry> entries = jedis.xrange(deadLetter, from, last, batch);
            if (entries.isEmpty()) {
                break;
            }
            for (StreamEntry e : entries) {
                String id = e.getID().toString();
                if (kind != null && !kind.equals(e.getFields().getOrDefault("dead.kind", ""))) {
                    continue;
                }
                Outcome o = replay(jedis, id);
                if (o == Outcome.REPLAYED) {
                    replayed++;
                } else if (o != Outcome.GONE) {
                    skipped.merge(o, 1, Integer::sum);
                    if (skippedIds.size() < 1000) {
                        skippedIds.add(id);
                    }
                }
            }
            progress.accept(new Tally(replayed, Map.copyOf(skipped), List.copyOf(skippedIds)));
            if (entries.size() < batch) {
                break;
            }
            from = "(" + entries.getLast().getID();
        }
        return new Tally(replayed, skipped, skippedIds);
    }

    private boolean parses(DeadLetterEntry e) {
        for (Map.Entry<String, String> f : e.original().entrySet()) {
            if (f.getKey().indexOf('\uFFFD') >= 0 || f.getValue().indexOf('\uFFFD') >= 0) {
                return false; // bytes that are not UTF-8, as Redis's client decoded them
            }
        }
        try {
            if (list) {
                String element = e.original().get("element");
                if (element == null) {
                    return true; // the script says it holds no job
                }
                codec.fromListElement(element);
            } else {
                codec.fromFields(e.original());
            }
            return true;
        } catch (RuntimeException bad) {
            return false;
        }
    }

    /** A dead-letter stream entry as a {@link DeadLetterEntry}. */
    public static DeadLetterEntry parse(String id, Map<String, String> fields) {
        Map<String, String> original = new LinkedHashMap<>();
        fields.forEach((k, v) -> {
            if (!k.startsWith(PREFIX)) {
                original.put(k, v);
            }
        });
        return new DeadLetterEntry(id, fields.getOrDefault("dead.job_id", ""), fields.getOrDefault("dead.kind", ""),
                fields.getOrDefault("dead.reason", ""), parseInt(fields.get("dead.attempts")),
                fields.getOrDefault("dead.node", ""), parseLong(fields.get("dead.at")), original,
                "1".equals(fields.get("dead.truncated")));
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
