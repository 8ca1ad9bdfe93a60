package dev.sluice.worker.cli;

import java.io.InputStream;
import java.time.Clock;
import java.util.Map;

/**
 * What the commands take from the process around them, passed in so a test can run them in-process with its own
 * environment and input.
 *
 * @param env               the environment, for {@code SLUICE_<SECTION>_<KEY>} configuration overrides
 * @param stdin             where {@code enqueue --stdin} reads keys
 * @param stderrIsTerminal  whether progress may be drawn on stderr
 * @param clock             the one clock of everything the command builds (a node and its parts, a queue session)
 */
public record CliContext(Map<String, String> env, InputStream stdin, boolean stderrIsTerminal, Clock clock) {

    /** A context on the system clock (tests). */
    public CliContext(Map<String, String> env, InputStream stdin, boolean stderrIsTerminal) {
        this(env, stdin, stderrIsTerminal, Clock.systemUTC());
    }

    /** The real process: its environment, its stdin, whether its stderr is a terminal, and {@code clock}. */
    public static CliContext system(Clock clock) {
        return new CliContext(System.getenv(), System.in, Terminal.stderrIsTerminal(), clock);
    }
}
