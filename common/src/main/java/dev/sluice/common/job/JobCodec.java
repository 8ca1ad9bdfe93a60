package dev.sluice.common.job;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.jspecify.annotations.Nullable;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads jobs as producers write them and writes them back for retries and dead letters.
 *
 * <p>Producers in any language write either stream entries with string fields {@code key} (required),
 * {@code type}, {@code id}, {@code payload} (JSON text), or, in list mode, a JSON object with the same fields or
 * a bare key string. A job enqueued as part of a backfill also carries its id as {@code batch} (a value that is not a
 * backfill id, a producer's own {@code batch} field say, is ignored, not refused). Sluice adds {@code attempts} and the
 * schema version {@code v} when it writes a job back; a
 * reader refuses versions newer than it knows, so nodes can be upgraded one at a time. Fields it does not know
 * are ignored so producers may attach their own metadata.
 */
public final class JobCodec {

    /** The job schema version this code writes and the newest it reads. */
    public static final int VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TYPE = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    private static final int MAX_KEY_LENGTH = 1024;
    /** A stream entry with more fields than this is not a job (a job has at most six, plus a producer's own few). */
    public static final int MAX_FIELDS = 64;

    private final int maxJobBytes;

    public JobCodec(int maxJobBytes) {
        this.maxJobBytes = maxJobBytes;
    }

    /** Parses a stream entry's fields. */
    public Job fromFields(Map<String, String> fields) {
        if (fields.size() > MAX_FIELDS) {
            throw new BadJobException("entry has " + fields.size() + " fields, more than a job may have (" + MAX_FIELDS + ")");
        }
        long size = 0;
        for (Map.Entry<String, String> e : fields.entrySet()) {
            size += utf8Length(e.getKey()) + (e.getValue() == null ? 0 : utf8Length(e.getValue()));
        }
        checkSize(size);
        checkVersion(fields.get("v"));
        String key = fields.get("key");
        if (key == null) {
            throw new BadJobException("missing field 'key' (fields were " + fields.keySet() + ")");
        }
        String payload = fields.get("payload");
        if (payload != null) {
            checkJson(payload);
        }
        return build(fields.get("id"), fields.get("type"), key, payload, parseAttempts(fields.get("attempts")),
                batchOrNull(fields.get("batch")));
    }

    /** Parses a list element: a JSON object, or a bare key string. */
    public Job fromListElement(String element) {
        checkSize(utf8Length(element));
        String trimmed = element.strip();
        if (!trimmed.startsWith("{") && !trimmed.startsWith("[") && !trimmed.startsWith("\"")) {
            return build(null, null, element, null, 0, null);
        }
        JsonNode node;
        try {
            node = JSON.readTree(trimmed);
        } catch (JacksonException e) {
            throw new BadJobException("not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (!node.isObject()) {
            throw new BadJobException("a JSON job must be an object, but was " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
        }
        checkVersion(node.has("v") ? node.get("v").asText() : null);
        String key = java.util.Objects.requireNonNull(text(node, "key", true)); // required: text throws first
        @Nullable String payload = null;
        if (node.hasNonNull("payload")) {
            JsonNode p = node.get("payload");
            if (p.isTextual()) {
                checkJson(p.asText());
                payload = p.asText();
            } else {
                payload = p.toString();
            }
        }
        @Nullable Integer attempts = null;
        if (node.has("attempts")) {
            if (!node.get("attempts").canConvertToInt() || !node.get("attempts").isIntegralNumber()) {
                throw new BadJobException("field 'attempts' must be a whole number, but was " + node.get("attempts"));
            }
            attempts = node.get("attempts").asInt();
        }
        JsonNode batch = node.get("batch");
        return build(text(node, "id", false), text(node, "type", false), key, payload,
                attempts == null ? 0 : validAttempts(attempts, node.get("attempts").toString()),
                batch != null && batch.isTextual() ? batchOrNull(batch.asText()) : null);
    }

    /** The stream fields for re-adding a job (retries, hand-backs). */
    public Map<String, String> toFields(Job job) {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("key", job.key());
        fields.put("type", job.type());
        fields.put("id", job.id());
        if (job.payload() != null) {
            fields.put("payload", job.payload());
        }
        fields.put("attempts", Integer.toString(job.attempts()));
        if (job.batch() != null) {
            fields.put("batch", job.batch());
        }
        fields.put("v", Integer.toString(VERSION));
        return fields;
    }

    /** The JSON form (list mode and the delayed set). */
    public String toJson(Job job) {
        return jsonNode(job).toString();
    }

    private static ObjectNode jsonNode(Job job) {
        ObjectNode node = JSON.createObjectNode();
        node.put("v", VERSION);
        node.put("id", job.id());
        node.put("type", job.type());
        node.put("key", job.key());
        if (job.payload() != null) {
            node.put("payload", job.payload());
        }
        node.put("attempts", job.attempts());
        if (job.batch() != null) {
            node.put("batch", job.batch());
        }
        return node;
    }

    /**
     * The backfill a list element names, read leniently (for an element that is not a valid job): null when it is
     * not a JSON object with a textual {@code batch} that is an id.
     */
    public static @Nullable String batchOfElement(@Nullable String element) {
        if (element == null || !element.strip().startsWith("{")) {
            return null;
        }
        try {
            JsonNode batch = JSON.readTree(element).get("batch");
            return batch != null && batch.isTextual() ? batchOrNull(batch.asText()) : null;
        } catch (JacksonException e) {
            return null;
        }
    }

    /** The backfill id a job names, or null for none or for a value that is not an id. */
    public static @Nullable String batchOrNull(@Nullable String value) {
        return BatchId.valid(value) ? value : null;
    }

    /**
     * The JSON form of a retry in the delayed set: {@link #toJson} plus a {@code nonce} no reader uses, so two
     * deliveries of equal jobs (a key enqueued twice) that fail alike stay two members of the set, and both run again.
     */
    public String toRetryJson(Job job, long nonce) {
        return jsonNode(job).put("nonce", Long.toHexString(nonce)).toString();
    }

    private Job build(@Nullable String id, @Nullable String type, String key, @Nullable String payload, int attempts,
                      @Nullable String batch) {
        if (key.isEmpty()) {
            throw new BadJobException("field 'key' must not be empty");
        }
        if (key.length() > MAX_KEY_LENGTH) {
            throw new BadJobException("field 'key' must be at most " + MAX_KEY_LENGTH + " characters, but was " + key.length());
        }
        String t = type == null || type.isEmpty() ? Job.DEFAULT_TYPE : type;
        if (!TYPE.matcher(t).matches()) {
            throw new BadJobException("field 'type' must be a handler name (lower-case letters, digits, '.', '_', '-'), but was '" + t + "'");
        }
        String i = id == null || id.isEmpty() ? Job.defaultId(t, key) : id;
        return new Job(i, t, key, payload, attempts, batch);
    }

    private void checkSize(long bytes) {
        if (bytes > maxJobBytes) {
            throw new BadJobException("job is " + bytes + " bytes, more than queue.max_job_bytes (" + maxJobBytes + ")");
        }
    }

    private static void checkVersion(@Nullable String v) {
        if (v == null) {
            return;
        }
        int version;
        try {
            version = Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new BadJobException("field 'v' must be a schema version number, but was '" + v + "'");
        }
        if (version < 1 || version > VERSION) {
            throw new BadJobException("job schema version " + version + " is not supported (this node reads 1 to " + VERSION + ")");
        }
    }

    private static void checkJson(String payload) {
        try {
            JSON.readTree(payload);
        } catch (JacksonException e) {
            throw new BadJobException("field 'payload' is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static int parseAttempts(@Nullable String value) {
        if (value == null) {
            return 0;
        }
        try {
            return validAttempts(Integer.parseInt(value.strip()), value);
        } catch (NumberFormatException e) {
            throw new BadJobException("field 'attempts' must be a whole number, but was '" + value + "'");
        }
    }

    private static int validAttempts(int attempts, String raw) {
        if (attempts < 0) {
            throw new BadJobException("field 'attempts' must not be negative, but was " + raw);
        }
        return attempts;
    }

    private static @Nullable String text(JsonNode node, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new BadJobException("missing field '" + field + "'");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw new BadJobException("field '" + field + "' must be a string, but was " + v.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
                    + " " + v);
        }
        return v.asText();
    }

    private static long utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
