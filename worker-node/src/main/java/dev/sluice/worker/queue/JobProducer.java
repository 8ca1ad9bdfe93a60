package dev.sluice.worker.queue;

import dev.sluice.common.job.Job;

import java.util.List;

/** The producer side of the queue: what {@code sluice enqueue} and the tests use to add jobs. */
public interface JobProducer {

    /** Producer side: adds jobs, pipelined; says how many Redis accepted, and why it refused the others. */
    Enqueued enqueue(List<Job> jobs);

    /**
     * Producer side: adds jobs exactly as a producer in another language would write them. In list mode each
     * element is pushed as it is; in stream mode an element that is a JSON object of strings becomes the entry's
     * fields, anything else becomes the {@code key} field.
     */
    Enqueued enqueueRaw(List<String> elements);
}
