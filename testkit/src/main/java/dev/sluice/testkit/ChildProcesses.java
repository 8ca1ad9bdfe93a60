package dev.sluice.testkit;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every OS process the testkit starts, so that a test JVM that ends without running the extensions'
 * cleanup (a surefire timeout, System.exit in a test) does not leave redis-server or node processes behind.
 */
final class ChildProcesses {

    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ChildProcesses::killAll, "sluice-testkit-reaper"));
    }

    private ChildProcesses() {
    }

    static Process register(Process process) {
        LIVE.add(process);
        process.onExit().thenRun(() -> LIVE.remove(process));
        return process;
    }

    private static void killAll() {
        for (Process process : LIVE) {
            process.destroyForcibly();
        }
    }
}
