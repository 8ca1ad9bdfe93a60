package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.control.DeadLetterStore;
import dev.sluice.adminhttp.Operation;
import dev.sluice.adminhttp.Responses;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The dead letters on the dashboard and the HTTP API:
 * <ul>
 *   <li>{@code GET /api/dlq?kind=K&before=ID&count=N}: the newest dead letters (of one kind), without their jobs,
 *       their count by kind, and the progress of a replay of all;</li>
 *   <li>{@code POST /api/dlq/show} {@code {"id": ID}}: one dead letter with its job (the payload needs a token);</li>
 *   <li>{@code POST /api/dlq/replay} {@code {"ids": [...]}} or {@code {"all": true, "kind": K}}: puts them back on
 *       the queue with attempts reset; letters that cannot be replayed (a prefix of an entry too large to read, a
 *       job that does not parse) are skipped and counted; "all" runs in batches in the background, its progress in
 *       {@code GET /api/dlq};</li>
 *   <li>{@code POST /api/dlq/discard} {@code {"ids": [...]}}: removes them for good.</li>
 * </ul>
 * Every change is written to the fleet's audit stream with who and how many.
 */
public final class DeadLetterOperations {
    private static final Logger log = LoggerFactory.getLogger(DeadLetterOperations.class);
    private static final Pattern ID = Pattern.compile("\\d{1,20}-\\d{1,20}");
    private static final Pattern KIND = Pattern.compile("[a-z0-9-]{1,64}");
    static final int MAX_IDS = 1_000;
    static final int BATCH = 100;

    private final FleetControl fleet;
    private final Clock clock;
    private volatile Map<String, Object> replayAll;
    /** The count by kind reads the whole stream: at most once every {@link #COUNTS_EVERY}, whoever asks. */
    static final java.time.Duration COUNTS_EVERY = java.time.Duration.ofSeconds(15);
    private volatile Map<String, Long> counts = Map.of();
    private volatile java.time.Instant countedAt = java.time.Instant.EPOCH;

    public DeadLetterOperations(FleetControl fleet, Clock clock) {
        this.fleet = fleet;
        this.clock = clock;
    }

    public void list(HttpExchange exchange) throws IOException {
        Map<String, String> q = Responses.query(exchange);
        String kind = q.get("kind");
        String before = q.get("before");
        int count;
        try {
            count = Integer.parseInt(q.getOrDefault("count", "50"));
        } catch (NumberFormatException e) {
            count = -1;
        }
        if (count < 1 || count > 500) {
            Responses.error(exchange, 400, "count must be between 1 and 500, but was " + q.get("count"));
            return;
        }
        if (kind != null && !kind.isEmpty() && !KIND.matcher(kind).matches()) {
            Responses.error(exchange, 400, "kind must be an error kind such as hub-rejected or bad-job, but was " + kind);
            return;
        }
        if (before != null && !before.isEmpty() && !ID.matcher(before).matches()) {
            Responses.error(exchange, 400, "before must be a dead-letter id such as 1765000000000-0, but was " + before);
            return;
        }
        int n = count;
        String k = kind == null || kind.isEmpty() ? null : kind;
        String b = before == null || before.isEmpty() ? null : before;
        try {
            Map<String, Object> out = fleet.deadLetters((j, store) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("stream", store.key());
                m.put("total", j.xlen(store.key()));
                m.put("byKind", countsByKind(j, store));
                List<Map<String, Object>> letters = new ArrayList<>();
                for (DeadLetterEntry e : store.page(j, b, n, k)) {
                    letters.add(e.toMap(false));
                }
                m.put("letters", letters);
                return m;
            });
            out.put("replayAll", replayAll);
            Responses.json(exchange, 200, out);
        } catch (FleetControl.RedisUnavailable e) {
            Responses.error(exchange, 503, e.getMessage());
        }
    }

    private Map<String, Long> countsByKind(redis.clients.jedis.Jedis j, DeadLetterStore store) {
        java.time.Instant now = clock.instant();
        if (java.time.Duration.between(countedAt, now).compareTo(COUNTS_EVERY) >= 0) {
            counts = store.countsByKind(j);
            countedAt = now;
        }
        return counts;
    }

    public Operation.Result show(String who, JsonNode body) {
        String id = body.path("id").asText("");
        if (!ID.matcher(id).matches()) {
            return bad("id must be a dead-letter id such as 1765000000000-0");
        }
        try {
            DeadLetterEntry e = fleet.deadLetters((j, store) -> store.find(j, id));
            return e == null ? new Operation.Result(404, Map.of("error", "no dead letter " + id))
                    : new Operation.Result(200, e.toMap(true));
        } catch (FleetControl.RedisUnavailable e) {
            return unreachable(e);
        }
    }

    public Operation.Result replay(String who, JsonNode body) {
        if (body.path("all").asBoolean(false)) {
            String kind = body.path("kind").isTextual() && !body.path("kind").asText().isEmpty()
                    ? body.path("kind").asText() : null;
            if (kind != null && !KIND.matcher(kind).matches()) {
                return bad("kind must be an error kind such as hub-rejected or bad-job");
            }
            return replayAll(who, kind);
        }
        List<String> ids = ids(body);
        if (ids == null) {
            return bad("give \"ids\": [up to " + MAX_IDS + " dead-letter ids], or \"all\": true");
        }
        try {
            Map<String, Object> out = fleet.deadLetters((j, store) -> {
                Map<String, List<String>> skipped = new LinkedHashMap<>();
                int replayed = 0;
                for (var e : store.replay(j, ids).entrySet()) {
                    if (e.getKey() == DeadLetterStore.Outcome.REPLAYED) {
                        replayed = e.getValue().size();
                    } else {
                        skipped.put(e.getKey().why(), e.getValue());
                    }
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("replayed", replayed);
                m.put("skipped", skipped);
                return m;
            });
            countedAt = java.time.Instant.EPOCH;
            fleet.audit(who, "dlq-replay", out.get("replayed") + " of " + ids.size() + " dead letters replayed");
            log.info("{} replayed {} of {} dead letters through the coordinator", who, out.get("replayed"), ids.size());
            return new Operation.Result(200, out);
        } catch (FleetControl.RedisUnavailable e) {
            return unreachable(e);
        }
    }

    private synchronized Operation.Result replayAll(String who, String kind) {
        Map<String, Object> running = replayAll;
        if (running != null && Boolean.TRUE.equals(running.get("running"))) {
            return new Operation.Result(409, Map.of("error", "a replay of all dead letters is running (started by "
                    + running.get("by") + ")", "replayAll", running));
        }
        Map<String, Object> state = progress(who, kind, true, 0, 0, Map.of(), null);
        replayAll = state;
        Thread.ofVirtual().name("sluice-dlq-replay").start(() -> {
            try {
                DeadLetterStore.Tally t = fleet.deadLetters((j, store) -> store.replayAll(j, kind, BATCH,
                        p -> replayAll = progress(who, kind, true, p.replayed(), p.skippedCount(), reasons(p), null)));
                replayAll = progress(who, kind, false, t.replayed(), t.skippedCount(), reasons(t), null);
                countedAt = java.time.Instant.EPOCH;
                fleet.audit(who, "dlq-replay-all", t.replayed() + " replayed, " + t.skippedCount() + " skipped"
                        + (kind == null ? "" : " (kind " + kind + ")"));
                log.info("{} replayed all dead letters{}: {} replayed, {} skipped", who,
                        kind == null ? "" : " of kind " + kind, t.replayed(), t.skippedCount());
            } catch (RuntimeException e) {
                Map<String, Object> last = replayAll;
                replayAll = progress(who, kind, false, ((Number) last.get("replayed")).intValue(),
                        ((Number) last.get("skipped")).intValue(), Map.of(), e.getMessage());
                log.warn("replaying all dead letters for {} failed", who, e);
            }
        });
        return new Operation.Result(202, Map.of("replayAll", state));
    }

    private Map<String, Object> progress(String who, String kind, boolean running, int replayed, int skipped,
                                         Map<String, Integer> why, String error) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("by", who);
        m.put("kind", kind);
        m.put("running", running);
        m.put("replayed", replayed);
        m.put("skipped", skipped);
        m.put("skippedBecause", why);
        m.put("at", clock.instant().toString());
        if (error != null) {
            m.put("error", error);
        }
        return m;
    }

    private static Map<String, Integer> reasons(DeadLetterStore.Tally t) {
        Map<String, Integer> m = new LinkedHashMap<>();
        t.skipped().forEach((o, n) -> m.put(o.why(), n));
        return m;
    }

    public Operation.Result discard(String who, JsonNode body) {
        List<String> ids = ids(body);
        if (ids == null) {
            return bad("give \"ids\": [up to " + MAX_IDS + " dead-letter ids]");
        }
        try {
            int removed = fleet.deadLetters((j, store) -> {
                int n = 0;
                for (String id : ids) {
                    if (store.discard(j, id)) {
                        n++;
                    }
                }
                return n;
            });
            countedAt = java.time.Instant.EPOCH;
            fleet.audit(who, "dlq-discard", removed + " of " + ids.size() + " dead letters discarded");
            log.info("{} discarded {} dead letters through the coordinator", who, removed);
            return new Operation.Result(200, Map.of("discarded", removed));
        } catch (FleetControl.RedisUnavailable e) {
            return unreachable(e);
        }
    }

    /** The ids of the body, or null when they are missing, too many or not ids. */
    private static List<String> ids(JsonNode body) {
        JsonNode ids = body.path("ids");
        if (!ids.isArray() || ids.isEmpty() || ids.size() > MAX_IDS) {
            return null;
        }
        List<String> out = new ArrayList<>();
        for (JsonNode id : ids) {
            if (!id.isTextual() || !ID.matcher(id.asText()).matches()) {
                return null;
            }
            out.add(id.asText());
        }
        return out;
    }

    private static Operation.Result bad(String message) {
        return new Operation.Result(400, Map.of("error", message));
    }

    private static Operation.Result unreachable(FleetControl.RedisUnavailable e) {
        return new Operation.Result(503, Map.of("error", e.getMessage()));
    }
}
