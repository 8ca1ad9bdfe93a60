package dev.sluice.common.job;

import org.jspecify.annotations.Nullable;

import java.util.Objects;

/**
 * One unit of work: call the handler for {@code type} with {@code key}. The {@code id} never changes through
 * retries and reschedules, so sinks can be idempotent by it.
 *
 * @param id        the producer's id, else {@code <type>:<key>}
 * @param type      the handler's name
 * @param key       what the job is about (the Hub key for {@code hub-fetch})
 * @param payload   optional JSON text for the handler, or null
 * @param attempts  attempts that already ran the handler and failed recoverably
 * @param batch     the backfill it belongs to ({@code sluice enqueue --batch}), or null; it travels with the job
 *                  through retries, so the job's end is counted once for its backfill
 */
public record Job(String id, String type, String key, @Nullable String payload, int attempts, @Nullable String batch) {

    /** The handler used when a job names none. */
    public static final String DEFAULT_TYPE = "hub-fetch";

    public Job {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(key, "key");
        if (attempts < 0) {
            throw new IllegalArgumentException("attempts must be >= 0, but was " + attempts);
        }
        if (batch != null && !BatchId.valid(batch)) {
            throw new IllegalArgumentException(BatchId.rule(batch));
        }
    }

    /** A job of no backfill. */
    public Job(String id, String type, String key, @Nullable String payload, int attempts) {
        this(id, type, key, payload, attempts, null);
    }

    /** A fresh job of the default type with the default id. */
    public static Job of(String key) {
        return of(DEFAULT_TYPE, key);
    }

    /** A fresh job with the default id. */
    public static Job of(String type, String key) {
        return new Job(defaultId(type, key), type, key, null, 0);
    }

    public static String defaultId(String type, String key) {
        return type + ":" + key;
    }

    /** The same job after one more failed attempt. */
    public Job nextAttempt() {
        return withAttempts(attempts + 1);
    }

    /** The same job with {@code n} attempts behind it. */
    public Job withAttempts(int n) {
        return new Job(id, type, key, payload, n, batch);
    }

    /** The same job as part of backfill {@code batchId}. */
    public Job inBatch(String batchId) {
        return new Job(id, type, key, payload, attempts, batchId);
    }
}
