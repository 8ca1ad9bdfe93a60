package dev.sluice.worker.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressTest {
    private static final long MS = 1_000_000L;

    private final StringWriter err = new StringWriter();
    private final AtomicLong now = new AtomicLong(1_000 * MS);

    @Test
    void drawsABarWithShareCountAndRate() {
        Progress p = new Progress(new PrintWriter(err), true, 5_000, now::get);

        now.addAndGet(500 * MS);
        p.update(2_500);

        assertThat(err.toString()).isEqualTo("\r[###############---------------]  50%  2,500/5,000  5,000 jobs/s");
    }

    @Test
    void redrawsAtMostTenTimesASecondAndErasesItselfAtTheEnd() {
        Progress p = new Progress(new PrintWriter(err), true, -1, now::get);

        now.addAndGet(100 * MS);
        p.update(1_000);
        now.addAndGet(50 * MS);
        p.update(2_000);
        now.addAndGet(50 * MS);
        p.update(3_000);
        p.finish();

        String first = "1,000 jobs  10,000 jobs/s";
        String second = "3,000 jobs  15,000 jobs/s";
        assertThat(err.toString()).isEqualTo("\r" + first + "\r" + second + "\r" + " ".repeat(second.length()) + "\r");
    }

    @Test
    void drawsNothingWhenStderrIsNoTerminal() {
        Progress p = new Progress(new PrintWriter(err), false, 10, now::get);

        now.addAndGet(1_000 * MS);
        p.update(10);
        p.finish();

        assertThat(err.toString()).isEmpty();
    }
}
