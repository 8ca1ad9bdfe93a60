package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;

/** {@code noop}: does nothing; measures the queue itself (benchmarks, smoke tests). */
public final class NoopHandler implements JobHandler {
    @Override
    public String type() {
        return "noop";
    }

    @Override
    public void handle(Job job, JobContext context) {
        // Nothing: the job is acknowledged.
    }
}
