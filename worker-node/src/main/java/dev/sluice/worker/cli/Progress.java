package dev.sluice.worker.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar redrawn in place on a terminal (carriage return, no newline), at most ten times a
 * second. Disabled, it draws nothing. With an unknown total it shows the count and the rate only.
 */
final class Progress {
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final boolean enabled;
    private final long total;
    private final LongSupplier nanoTime;
    private final long start;
    private long lastDraw;
    private int lastLength;

    /** @param total the expected count, or -1 when unknown */
    Progress(PrintWriter err, boolean enabled, long total, LongSupplier nanoTime) {
        this.err = err;
        this.enabled = enabled;
        this.total = total;
        this.nanoTime = nanoTime;
        this.start = nanoTime.getAsLong();
        this.lastDraw = start - REDRAW_NANOS;
    }

    void update(long done) {
        if (!enabled) {
            return;
        }
        long now = nanoTime.getAsLong();
        if (now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        String line = render(done, now - start);
        err.print("\r" + line + " ".repeat(Math.max(0, lastLength - line.length())));
        err.flush();
        lastLength = line.length();
    }

    /** Erases the bar, leaving the cursor at the start of an empty line. */
    void finish() {
        if (!enabled || lastLength == 0) {
            return;
        }
        err.print("\r" + " ".repeat(lastLength) + "\r");
        err.flush();
        lastLength = 0;
    }

    String render(long done, long elapsedNanos) {
        long rate = elapsedNanos <= 0 ? 0 : Math.round(done * 1e9 / elapsedNanos);
        if (total <= 0) {
            return String.format(Locale.ROOT, "%,d jobs  %,d jobs/s", done, rate);
        }
        double share = Math.min(1.0, (double) done / total);
        int filled = (int) Math.round(share * WIDTH);
        return String.format(Locale.ROOT, "[%s%s] %3d%%  %,d/%,d  %,d jobs/s", "#".repeat(filled),
                "-".repeat(WIDTH - filled), Math.round(share * 100), done, total, rate);
    }
}
