package dev.sluice.hubsim;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Notices when the simulator itself stood still: a thread that asks to wake every millisecond and records how much
 * later it did. A garbage-collection pause or a starved CPU stops it as it stops the request handlers, and arrivals
 * during such a stall are recorded late, bunched together: a sliding-second maximum taken across one may be the
 * simulator's own doing, not the client's. An over-limit arrival is logged with the longest stall of the second
 * before it, so the two can be told apart.
 */
final class StallWatch implements AutoCloseable {
    /** Stalls shorter than this are not kept. */
    private static final long KEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final long HORIZON_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /** A stall that ended at {@code endNanos} after {@code lengthNanos} of oversleep. */
    private record Stall(long endNanos, long lengthNanos) {
    }

    private final ArrayDeque<Stall> recent = new ArrayDeque<>();
    private final Thread thread;
    private volatile boolean running = true;

    StallWatch() {
        thread = Thread.ofPlatform().name("hub-simulator-stall-watch").daemon().unstarted(this::watch);
        thread.setPriority(Thread.MAX_PRIORITY);
    }

    StallWatch start() {
        thread.start();
        return this;
    }

    private void watch() {
        long last = System.nanoTime();
        while (running) {
            LockSupport.parkNanos(TICK_NANOS);
            long now = System.nanoTime();
            long over = now - last - TICK_NANOS;
            if (over >= KEEP_NANOS) {
                synchronized (recent) {
                    recent.addLast(new Stall(now, over));
                    while (!recent.isEmpty() && now - recent.peekFirst().endNanos() > HORIZON_NANOS) {
                        recent.removeFirst();
                    }
                }
            }
            last = now;
        }
    }

    /** The longest stall (milliseconds) that ended within {@code withinNanos} before now; 0 when none was kept. */
    double longestWithin(long withinNanos) {
        long now = System.nanoTime();
        long longest = 0;
        synchronized (recent) {
            for (Stall s : recent) {
                if (now - s.endNanos() <= withinNanos) {
                    longest = Math.max(longest, s.lengthNanos());
                }
            }
        }
        return longest / 1e6;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
