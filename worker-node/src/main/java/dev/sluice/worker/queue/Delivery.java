package dev.sluice.worker.queue;

import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.Job;
import dev.sluice.common.job.JobCodec;

import java.util.List;
import java.util.Map;

/**
 * One job as this node received it: the queue's handle for it (a stream entry id, or the list element itself),
 * the job, or the reason it could not be parsed.
 *
 * @param handle      what the queue needs to acknowledge it
 * @param job         the parsed job, or null when {@code parseError} is set
 * @param parseError  why the raw job is malformed, or null
 * @param raw         the job as the producer wrote it (stream fields, or {@code element} in list mode); when
 *                    {@code exact} or {@code unread} is set, only a readable view of it
 * @param deliveries  how many times it has been delivered (1 on first delivery)
 * @param exact       the producer's bytes, field, value, ... when they are not UTF-8 (so {@code raw} could not hold
 *                    them), else null; a dead letter keeps these bytes unchanged
 * @param unread      what was not read into the heap (too large), else null: {@code raw} then holds prefixes only
 */
public record Delivery(String handle, Job job, BadJobException parseError, Map<String, String> raw, long deliveries,
                       List<byte[]> exact, Unread unread) {

    /**
     * An entry not taken as a job for its size or width: its size, its field count, the SHA-256 of each field left
     * unread, and the SHA-256 of the whole when it was read whole (else null).
     */
    public record Unread(long bytes, int fields, Map<String, String> sha256ByField, String sha256) {
    }

    public Delivery(String handle, Job job, BadJobException parseError, Map<String, String> raw, long deliveries) {
        this(handle, job, parseError, raw, deliveries, null, null);
    }

    public boolean malformed() {
        return parseError != null;
    }

    /**
     * The backfill the job belongs to, or null: the parsed job's, else (a job that could not be parsed) the one its
     * stream fields or its list element's JSON name, so a malformed job of a backfill still counts as dead-lettered
     * for it.
     */
    public String batch() {
        if (job != null) {
            return job.batch();
        }
        if (raw == null) {
            return null;
        }
        // List mode keeps the element whole: a job too new or too large to parse may still name its backfill.
        return raw.size() == 1 && raw.containsKey("element") && unread == null ? JobCodec.batchOfElement(raw.get("element"))
                : JobCodec.batchOrNull(raw.get("batch"));
    }

    /** The job id when known, else the handle. */
    public String describe() {
        return job != null ? job.id() : handle;
    }
}
