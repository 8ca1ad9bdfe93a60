package dev.sluice.common.health;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * Runs a long-lived loop so that it never dies quietly: an {@link Exception} escaping its body is logged and the
 * body runs again after a backoff (doubling up to 5 s, reset after a minute without failure); an {@link Error}
 * is never caught, and reaches the thread's uncaught-exception handler, {@link #fatalHandler}: a
 * {@link VirtualMachineError} marks the process dead and ends it; any other error ends the loop's thread,
 * and the {@link LoopWatch} reports the loop stuck while it has work.
 */
public final class Loops {
    private static final Logger log = LoggerFactory.getLogger(Loops.class);
    private static final long MAX_BACKOFF_MS = 5_000;

    private Loops() {
    }

    /** The body of a loop; it returns when the loop should end (its owner is closing). */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    /**
     * Runs {@code body} until it returns normally or the thread is interrupted, restarting it with backoff after
     * an exception.
     */
    public static void restarting(String name, Body body) {
        RetryDelay delay = new RetryDelay(Duration.ofMillis(100), Duration.ofMillis(MAX_BACKOFF_MS));
        long lastFailure = 0;
        while (!Thread.currentThread().isInterrupted()) {
            try {
                body.run();
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                long now = System.nanoTime();
                if (lastFailure != 0 && now - lastFailure > Duration.ofMinutes(1).toNanos()) {
                    delay.reset();
                }
                lastFailure = now;
                Duration pause = delay.next();
                log.error("loop {} failed; restarting it in {} ms", name, pause.toMillis(), e);
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * The uncaught-exception handler for a process's watched threads: a {@link VirtualMachineError} (out of memory, stack
     * overflow, an internal error) leaves the JVM in a state nothing should be trusted to, so the process is marked
     * not live and {@code exit} is called with the error; other errors are logged (the watch notices a loop that
     * stopped).
     */
    public static Thread.UncaughtExceptionHandler fatalHandler(LoopWatch watch, Consumer<Throwable> exit) {
        return (thread, error) -> {
            if (error instanceof VirtualMachineError) {
                watch.fatal(error + " on thread " + thread.getName());
                log.error("fatal error on thread {}: the {} is no longer live and exits", thread.getName(), watch.process(),
                        error);
                exit.accept(error);
            } else {
                log.error("thread {} ended by an error", thread.getName(), error);
            }
        };
    }

    /** The production exit: ends the process with status 70, and halts it if shutting down takes over 30 s. */
    public static void exitProcess(Throwable error) {
        Thread.ofPlatform().name("sluice-fatal-exit").daemon().start(() -> {
            Thread.ofPlatform().name("sluice-fatal-halt").daemon().start(() -> {
                try {
                    Thread.sleep(30_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                Runtime.getRuntime().halt(70);
            });
            System.exit(70);
        });
    }
}
