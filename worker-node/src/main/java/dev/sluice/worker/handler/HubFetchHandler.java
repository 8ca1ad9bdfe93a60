package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;
import dev.sluice.worker.hub.BodyBudget;

/**
 * {@code hub-fetch}: GET the Hub for the job's key and write the body to the sink. The body's room in the node's
 * {@link BodyBudget} is given back once the result is written, or writing it failed.
 */
public final class HubFetchHandler implements JobHandler {
    @Override
    public String type() {
        return Job.DEFAULT_TYPE;
    }

    @Override
    public void handle(Job job, JobContext context) throws InterruptedException {
        try {
            context.writeResult(job, context.callHub(job.key()));
        } finally {
            BodyBudget.releaseHeldByCurrentThread();
        }
    }
}
