package dev.sluice.worker.handler;

import dev.sluice.common.job.Job;

import java.nio.charset.StandardCharsets;

/**
 * A handler that is not part of Sluice: it stands for a user's jar on the class path, registered only in
 * {@code src/test/resources/META-INF/services}. It writes its payload back as the result without calling the Hub.
 */
public final class EchoHandler implements JobHandler {
    @Override
    public String type() {
        return "echo";
    }

    @Override
    public void handle(Job job, JobContext context) throws InterruptedException {
        context.writeResult(job, ("echo:" + job.key() + ":" + job.payload()).getBytes(StandardCharsets.UTF_8));
    }
}
