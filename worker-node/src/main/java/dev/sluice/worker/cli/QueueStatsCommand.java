package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.queue.QueueStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/** {@code sluice queue stats}: what the queue holds now. */
@Command(name = "stats", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Shows waiting, pending, delayed and dead jobs, the age of the oldest waiting job and the "
                + "pending jobs of each consumer.")
final class QueueStatsCommand extends RedisCommand {

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    /** The JSON shape: the statistics and the queue they are about. */
    record Report(String mode, String key, String group, long waiting, long pending, long delayed, long dead,
                  long oldestWaitingAgeMs, Map<String, Long> pendingByConsumer) {
    }

    QueueStatsCommand(CliContext context) {
        super(context);
    }

    @Override
    int run(SluiceConfig config, QueueSession session) {
        QueueStats s = session.queue().stats();
        boolean list = session.isList();
        Report r = new Report(s.mode(), config.queue().key(),
                list ? null : config.queue().group(), s.waiting(), s.pending(), s.delayed(), s.dead(),
                s.oldestWaitingAgeMs(), s.pendingByConsumer());
        PrintWriter out = out();
        if (json) {
            out.println(Json.write(r));
        } else {
            out.println(session.describe() + (list ? "" : ", group " + r.group()));
            row(out, "waiting", Long.toString(r.waiting()));
            row(out, "pending", Long.toString(r.pending()));
            row(out, "delayed", Long.toString(r.delayed()));
            row(out, "dead", r.dead() + " (in " + config.queue().deadLetter() + ")");
            row(out, "oldest waiting", age(r.oldestWaitingAgeMs(), list));
            if (r.pendingByConsumer().isEmpty()) {
                row(out, "pending by node", "none");
            } else {
                out.println("  pending by node");
                r.pendingByConsumer().forEach((node, n) -> out.printf(Locale.ROOT, "    %-40s %d%n", node, n));
            }
        }
        out.flush();
        return ExitCodes.OK;
    }

    private static void row(PrintWriter out, String name, String value) {
        out.printf(Locale.ROOT, "  %-16s %s%n", name, value);
    }

    static String age(long ms, boolean list) {
        if (ms == 0) {
            return "-";
        }
        if (ms < 0) {
            return list ? "unknown (list elements carry no time)" : "unknown";
        }
        if (ms < 60_000) {
            return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        long secs = ms / 1000;
        return secs < 3600
                ? String.format(Locale.ROOT, "%d min %d s", secs / 60, secs % 60)
                : String.format(Locale.ROOT, "%d h %d min", secs / 3600, secs % 3600 / 60);
    }
}
