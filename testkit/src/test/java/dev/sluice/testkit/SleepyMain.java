package dev.sluice.testkit;

/**
 * A stand-in node for {@link NodeProcessTest}: reports that it is ready, then sleeps until it is signalled.
 * Its shutdown hook writes a line, so a test can tell SIGTERM (hooks run) from SIGKILL (they do not).
 */
public final class SleepyMain {

    private SleepyMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("shutdown hook ran")));
        if (args.length > 0 && args[0].equals("exit")) {
            System.out.println("exiting at once with 3");
            System.exit(3);
        }
        System.out.println("ready pid=" + ProcessHandle.current().pid() + " args=" + String.join(",", args)
                + " SLUICE_GREETING=" + System.getenv("SLUICE_GREETING")
                + " maxHeapMb=" + Runtime.getRuntime().maxMemory() / (1024 * 1024));
        System.err.println("stderr goes to the same log");
        Thread.sleep(600_000);
    }
}
