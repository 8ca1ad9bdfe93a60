package dev.sluice.worker.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether stderr is a terminal. Java cannot ask isatty(2), so on Linux this looks where file descriptor 2 points. */
final class Terminal {
    private Terminal() {
    }

    static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // No /proc (macOS, Windows): an interactive console is the best guess available.
            return System.console() != null;
        }
    }
}
