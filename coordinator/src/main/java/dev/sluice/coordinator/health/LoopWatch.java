package dev.sluice.coordinator.health;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Watches the coordinator's long-lived loops (events consumer, alert evaluator, webhook sender) so that a loop that
 * died or froze fails {@code /health/live} instead of leaving a zombie that answers green.
 *
 * <p>The coordinator's counterpart of the worker node's {@code LoopWatch} (the coordinator does not depend on the
 * worker node), with the same contract: each loop {@link Loop#tick() ticks} whenever it finishes a round of work,
 * whether the round succeeded or not; a loop is <em>stuck</em> when it has work and has not ticked for three of its
 * periods, and never sooner than the minimum stall (30 s); a loop whose thread ended by an error is reported at
 * once; a {@link VirtualMachineError} on a watched thread marks the coordinator dead and ends the process
 * ({@link #uncaughtHandler()}, {@link Loops#exitProcess}).
 */
public final class LoopWatch {
    /** The least time a loop must stand still before it is judged stuck. */
    public static final Duration MINIMUM_STALL = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(LoopWatch.class);

    private final LongSupplier nanoTime;
    private final Duration minimumStall;
    private final Thread.UncaughtExceptionHandler uncaught;
    private final List<Loop> loops = new CopyOnWriteArrayList<>();
    private volatile String fatal;

    /** The coordinator's watch: the system's monotonic clock, {@link #MINIMUM_STALL}, a fatal error exits (70). */
    public static LoopWatch forCoordinator() {
        return new LoopWatch(System::nanoTime, MINIMUM_STALL, Loops::exitProcess);
    }

    /**
     * @param nanoTime      a monotonic clock in nanoseconds
     * @param minimumStall  the least time without a tick before a loop with work is stuck
     * @param exit          called once the coordinator is marked dead by a {@link VirtualMachineError}
     */
    public LoopWatch(LongSupplier nanoTime, Duration minimumStall, Consumer<Throwable> exit) {
        this.nanoTime = nanoTime;
        this.minimumStall = minimumStall;
        this.uncaught = (thread, error) -> {
            if (error instanceof VirtualMachineError) {
                fatal(error + " on thread " + thread.getName());
                log.error("fatal error on thread {}: the coordinator is no longer live and exits", thread.getName(),
                        error);
                exit.accept(error);
            } else {
                log.error("thread {} ended by an error", thread.getName(), error);
            }
        };
    }

    /**
     * The uncaught-exception handler of the watched threads: a {@link VirtualMachineError} (out of memory, stack
     * overflow, an internal error) leaves the JVM in a state nothing should be trusted to, so the coordinator is
     * marked not live and the exit is called with the error; other errors are logged (the loop reports itself
     * {@link Loop#died() dead}).
     */
    public Thread.UncaughtExceptionHandler uncaughtHandler() {
        return uncaught;
    }

    /**
     * Registers a loop.
     *
     * @param name     what the operator reads: "events-consumer", "evaluator" ...
     * @param period   the longest a round of the loop takes when all is well
     * @param hasWork  true while the loop has something to do (an idle webhook sender is not stuck)
     */
    public Loop register(String name, Duration period, BooleanSupplier hasWork) {
        Loop loop = new Loop(name, Math.max(3 * period.toNanos(), minimumStall.toNanos()), hasWork);
        loops.add(loop);
        return loop;
    }

    /** Marks the coordinator dead for good (a fatal error); {@link #problems()} reports it from now on. */
    public void fatal(String reason) {
        if (fatal == null) {
            fatal = reason;
        }
    }

    /** Why the coordinator is not live: a fatal error, each dead or stuck loop; empty when live. */
    public List<String> problems() {
        List<String> out = new ArrayList<>();
        String f = fatal;
        if (f != null) {
            out.add("fatal error: " + f);
        }
        long now = nanoTime.getAsLong();
        for (Loop loop : loops) {
            if (loop.died) {
                out.add(loop.name + " ended by an error");
                continue;
            }
            long still = now - loop.lastTick.get();
            if (!loop.stopped && still >= loop.stallNanos && loop.hasWork.getAsBoolean()) {
                out.add(loop.name + " has work and has not come round for " + Duration.ofNanos(still).toSeconds()
                        + " s (limit " + Duration.ofNanos(loop.stallNanos).toSeconds() + " s)");
            }
        }
        return out;
    }

    /** One watched loop. */
    public final class Loop {
        private final String name;
        private final long stallNanos;
        private final BooleanSupplier hasWork;
        private final AtomicLong lastTick;
        private volatile boolean stopped;
        private volatile boolean died;

        private Loop(String name, long stallNanos, BooleanSupplier hasWork) {
            this.name = name;
            this.stallNanos = stallNanos;
            this.hasWork = hasWork;
            this.lastTick = new AtomicLong(nanoTime.getAsLong());
        }

        /** The loop finished a round of work, successful or not. */
        public void tick() {
            lastTick.set(nanoTime.getAsLong());
        }

        /** The loop ended on purpose (the coordinator is stopping): no longer watched. */
        public void stopped() {
            stopped = true;
        }

        /** The loop's thread ended by an error: the coordinator is not live from now on. */
        public void died() {
            died = true;
        }

        public String name() {
            return name;
        }
    }
}
