package dev.sluice.common.health;

import org.jspecify.annotations.Nullable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Watches a process's long-lived loops (a node's fetcher, completer, sink writer, keep-alive, promotion,
 * maintenance, event sender; the coordinator's events consumer, evaluator, webhook sender) so that a loop that died
 * or froze fails the liveness probe instead of leaving a zombie that answers green. The worker node and the
 * coordinator share it.
 *
 * <p>Each loop {@link Loop#tick() ticks} whenever it finishes a round of work (a fetch, a batch applied or refused,
 * a scheduled run), whether the round succeeded or not: a loop that keeps failing and retrying with backoff is
 * alive, one that no longer comes round is not. A loop is <em>stuck</em> when it has work and has not ticked for
 * three of its periods, and never sooner than {@link #minimumStall} (30 s). A fatal error (a
 * {@link VirtualMachineError}) marks the whole process dead at once.
 */
public final class LoopWatch {
    /** The least time a loop must stand still before it is judged stuck. */
    public static final Duration MINIMUM_STALL = Duration.ofSeconds(30);

    private final String process;
    private final LongSupplier nanoTime;
    private final Duration minimumStall;
    private final Thread.UncaughtExceptionHandler uncaught;
    private final List<Loop> loops = new CopyOnWriteArrayList<>();
    private volatile @Nullable String fatal;

    /**
     * A node's watch: the system's monotonic clock, the node's {@link #MINIMUM_STALL}, and a fatal error ends the
     * process ({@link Loops#exitProcess}).
     */
    public static LoopWatch forNode() {
        return new LoopWatch("node", System::nanoTime, MINIMUM_STALL, Loops::exitProcess);
    }

    /** The coordinator's watch: the same as a node's, named for the coordinator in its log. */
    public static LoopWatch forCoordinator() {
        return new LoopWatch("coordinator", System::nanoTime, MINIMUM_STALL, Loops::exitProcess);
    }

    /**
     * @param nanoTime      a monotonic clock in nanoseconds
     * @param minimumStall  the least time without a tick before a loop with work is stuck
     * @param exit          called once the process is marked dead by a {@link VirtualMachineError}
     */
    public LoopWatch(LongSupplier nanoTime, Duration minimumStall, Consumer<Throwable> exit) {
        this("process", nanoTime, minimumStall, exit);
    }

    /** @param process what the log calls the process: "node", "coordinator" */
    public LoopWatch(String process, LongSupplier nanoTime, Duration minimumStall, Consumer<Throwable> exit) {
        this.process = process;
        this.nanoTime = nanoTime;
        this.minimumStall = minimumStall;
        this.uncaught = Loops.fatalHandler(this, exit);
    }

    /** What the log calls the process: "node", "coordinator". */
    public String process() {
        return process;
    }

    /** The uncaught-exception handler every watched thread gets (see {@link Loops#fatalHandler}). */
    public Thread.UncaughtExceptionHandler uncaughtHandler() {
        return uncaught;
    }

    /**
     * Registers a loop.
     *
     * @param name     what the operator reads: "fetcher", "completer" ...
     * @param period   how often the loop comes round at the latest when all is well
     * @param hasWork  true while the loop has something to do (an idle sink writer is not stuck)
     */
    public Loop register(String name, Duration period, BooleanSupplier hasWork) {
        Loop loop = new Loop(name, Math.max(3 * period.toNanos(), minimumStall.toNanos()), hasWork);
        loops.add(loop);
        return loop;
    }

    /** Marks the process dead for good (a fatal error); {@link #problems()} reports it from now on. */
    public void fatal(String reason) {
        if (fatal == null) {
            fatal = reason;
        }
    }

    /** Why the process is not live: a fatal error, or each stuck loop with how long it has stood still; empty when live. */
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

        /** The loop ended on purpose (the process is stopping): no longer watched. */
        public void stopped() {
            stopped = true;
        }

        /** The loop's thread ended by an error: the process is not live from now on. */
        public void died() {
            died = true;
        }

        public String name() {
            return name;
        }
    }
}
