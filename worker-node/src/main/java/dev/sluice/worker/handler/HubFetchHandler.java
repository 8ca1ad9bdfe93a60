package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;

/** {@code hub-fetch}: GET the Hub for the job's key and write the body to the sink. */
public final class HubFetchHandler implements JobHandler {
    @Override
    public String type() {
        return Job.DEFAULT_TYPE;
    }

    @Override
    public void handle(Job job, JobContext context) throws InterruptedException {
        context.writeResult(job, context.callHub(job.key()));
    }
}
