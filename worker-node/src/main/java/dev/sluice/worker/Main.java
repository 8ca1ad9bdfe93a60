package dev.sluice.worker;

import dev.sluice.worker.cli.Cli;
import dev.sluice.worker.cli.CliContext;

import java.time.Clock;

/** The {@code sluice} command: see {@link Cli}. */
public final class Main {
    private Main() {
    }

    public static void main(String... args) {
        // The one clock of the process: every part of a node, and every command, takes its time from it.
        int exitCode = Cli.commandLine(CliContext.system(Clock.systemUTC())).execute(args);
        // Exiting with 0 is left to the JVM: System.exit while shutdown hooks run (after SIGTERM) would block.
        if (exitCode != 0) {
            System.exit(exitCode);
        }
    }
}
