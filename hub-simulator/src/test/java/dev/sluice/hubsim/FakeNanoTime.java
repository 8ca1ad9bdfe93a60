package dev.sluice.hubsim;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** A time source that moves only when told to. */
final class FakeNanoTime implements LongSupplier {
    private final AtomicLong now = new AtomicLong(1_000_000_000_000L);

    @Override
    public long getAsLong() {
        return now.get();
    }

    void advance(Duration duration) {
        now.addAndGet(duration.toNanos());
    }

    void advanceNanos(long nanos) {
        now.addAndGet(nanos);
    }
}
