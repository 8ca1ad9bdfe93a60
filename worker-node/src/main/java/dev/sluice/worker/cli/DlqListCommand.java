package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.control.DeadLetterEntry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code sluice dlq list}: the newest dead letters. */
@Command(name = "list", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Lists the newest dead letters: id, job id, kind, attempts, node, time and reason.")
final class DlqListCommand extends RedisCommand {
    static final int MAX_COUNT = 100_000;

    @Option(names = "--count", paramLabel = "N", defaultValue = "20",
            description = "How many, newest first, 1 to " + MAX_COUNT + ". Default: ${DEFAULT-VALUE}.")
    int count;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    /** The JSON shape of one dead letter. */
    record Item(String id, String jobId, String kind, String reason, int attempts, String node, String at,
                long atMs, Map<String, String> original) {
        static Item of(DeadLetterEntry e) {
            return new Item(e.id(), e.jobId(), e.kind(), e.reason(), e.attempts(), e.node(),
                    e.atMs() == 0 ? null : Instant.ofEpochMilli(e.atMs()).toString(), e.atMs(), e.original());
        }
    }

    DlqListCommand(CliContext context) {
        super(context);
    }

    @Override
    void validate() {
        if (count < 1 || count > MAX_COUNT) {
            throw new ParameterException(spec.commandLine(),
                    "--count must be between 1 and " + MAX_COUNT + ", but was " + count);
        }
    }

    @Override
    int run(SluiceConfig config, QueueSession session) {
        List<Item> items = session.queue().deadLetters(count).stream().map(Item::of).toList();
        PrintWriter out = out();
        if (json) {
            out.println(Json.write(items));
        } else if (items.isEmpty()) {
            out.println("no dead letters in " + config.queue().deadLetter());
        } else {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"ID", "JOB ID", "KIND", "ATTEMPTS", "NODE", "TIME", "REASON"});
            for (Item i : items) {
                rows.add(new String[] {i.id(), i.jobId(), i.kind(), Integer.toString(i.attempts()), i.node(),
                        i.at() == null ? "-" : i.at(), oneLine(i.reason())});
            }
            printTable(out, rows);
        }
        out.flush();
        return ExitCodes.OK;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ");
    }

    /** Columns padded to their widest cell; the last one is not padded. */
    static void printTable(PrintWriter out, List<String[]> rows) {
        int columns = rows.getFirst().length;
        int[] width = new int[columns];
        for (String[] row : rows) {
            for (int c = 0; c < columns; c++) {
                width[c] = Math.max(width[c], row[c] == null ? 0 : row[c].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < columns; c++) {
                String cell = row[c] == null ? "" : row[c];
                line.append(cell);
                if (c < columns - 1) {
                    line.append(" ".repeat(width[c] - cell.length() + 2));
                }
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
