package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;

/** What a handler may use while it runs one job. */
public interface JobContext {

    /** GETs the Hub for {@code key} within the fleet's limits; the body of a 2xx answer. */
    byte[] callHub(String key);

    /** Stores the job's result in the configured sink, idempotently by job id. */
    void writeResult(Job job, byte[] result) throws InterruptedException;
}
