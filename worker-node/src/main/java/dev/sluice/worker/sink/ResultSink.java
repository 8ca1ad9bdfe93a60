package dev.sluice.worker.sink;

import dev.sluice.common.job.Job;

/**
 * Where results go. A write returns once the result is durable; writing the same job id twice leaves one
 * result, so redelivered jobs do no harm.
 */
public interface ResultSink extends AutoCloseable {

    void write(Job job, byte[] result) throws InterruptedException;

    @Override
    default void close() {
    }
}
