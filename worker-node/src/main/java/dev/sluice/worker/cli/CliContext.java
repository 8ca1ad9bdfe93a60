package dev.sluice.worker.cli;

import java.io.InputStream;
import java.util.Map;

/**
 * What the commands take from the process around them, passed in so a test can run them in-process with its own
 * environment and input.
 *
 * @param env               the environment, for {@code SLUICE_<SECTION>_<KEY>} configuration overrides
 * @param stdin             where {@code enqueue --stdin} reads keys
 * @param stderrIsTerminal  whether progress may be drawn on stderr
 */
public record CliContext(Map<String, String> env, InputStream stdin, boolean stderrIsTerminal) {

    /** The real process: its environment, its stdin, and whether its stderr is a terminal. */
    public static CliContext system() {
        return new CliContext(System.getenv(), System.in, Terminal.stderrIsTerminal());
    }
}
