package dev.sluice.worker.queue;

import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.Job;

import java.util.Map;

/**
 * One job as this node received it: the queue's handle for it (a stream entry id, or the list element itself),
 * the job, or the reason it could not be parsed.
 *
 * @param handle      what the queue needs to acknowledge it
 * @param job         the parsed job, or null when {@code parseError} is set
 * @param parseError  why the raw job is malformed, or null
 * @param raw         the job as the producer wrote it (stream fields, or {@code element} in list mode)
 * @param deliveries  how many times it has been delivered (1 on first delivery)
 */
public record Delivery(String handle, Job job, BadJobException parseError, Map<String, String> raw, long deliveries) {

    public boolean malformed() {
        return parseError != null;
    }

    /** The job id when known, else the handle. */
    public String describe() {
        return job != null ? job.id() : handle;
    }
}
