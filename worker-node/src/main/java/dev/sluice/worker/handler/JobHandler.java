package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;

/**
 * Runs one type of job. Implementations are found with {@link java.util.ServiceLoader} (list them in
 * {@code META-INF/services/dev.sluice.worker.handler.JobHandler}), so users add handlers as jars on the class
 * path. A handler must have a public no-argument constructor and be safe to call from many threads.
 *
 * <p>Throwing fails the job, and the failure's kind decides what happens to it (see {@code RetryPolicy}): recoverable
 * ones are retried with backoff, permanent ones dead-lettered. A handler says the kind by throwing a
 * {@link dev.sluice.common.error.SluiceException}, as {@link JobContext}'s calls do. An exception of the node's own
 * Redis or Kafka client keeps the kind it has there (Redis busy or unreachable: {@code REDIS_UNAVAILABLE}; a result
 * too large for Kafka: {@code BAD_JOB}), a JSON parse error is a bad job, and anything else, a bare
 * {@link java.io.IOException} included, is {@code INTERNAL}: a handler's own I/O is not the Hub's. Returning normally
 * acknowledges the job.
 */
public interface JobHandler {

    /** The {@code type} field of the jobs this handler runs. */
    String type();

    void handle(Job job, JobContext context) throws Exception;
}
