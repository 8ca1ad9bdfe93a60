package dev.sluice.worker.sink;

import dev.sluice.common.job.Job;

import java.util.concurrent.Semaphore;

/** At most {@code sink.max_concurrent_writes} writes in flight from this node (the seed's database semaphore). */
public final class BoundedSink implements ResultSink {
    private final ResultSink delegate;
    private final Semaphore writes;

    public BoundedSink(ResultSink delegate, int maxConcurrentWrites) {
        this.delegate = delegate;
        this.writes = new Semaphore(maxConcurrentWrites, true);
    }

    @Override
    public void write(Job job, byte[] result) throws InterruptedException {
        writes.acquire();
        try {
            delegate.write(job, result);
        } finally {
            writes.release();
        }
    }

    @Override
    public void close() {
        delegate.close();
    }
}
