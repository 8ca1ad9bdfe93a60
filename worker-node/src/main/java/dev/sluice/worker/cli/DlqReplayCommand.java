package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.queue.DeadLetterEntry;
import dev.sluice.worker.queue.JobQueue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code sluice dlq replay}: puts dead letters back on the queue with their attempts reset.
 *
 * <p>{@code --all} replays the dead letters there when it starts, newest first, a page at a time; jobs that die
 * again while it runs are left alone, so a job that always fails cannot keep it going.
 */
@Command(name = "replay", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Puts dead letters back on the queue, by id or all of them.")
final class DlqReplayCommand extends RedisCommand {
    static final int PAGE = 500;

    @Option(names = "--all", description = "Replay every dead letter there now.")
    boolean all;

    @Parameters(paramLabel = "ID", arity = "0..*", description = "Dead-letter ids (from 'sluice dlq list').")
    List<String> ids = new ArrayList<>();

    DlqReplayCommand(CliContext context) {
        super(context);
    }

    @Override
    void validate() {
        if (all == !ids.isEmpty()) {
            throw new ParameterException(spec.commandLine(), all ? "Give either --all or IDs, not both"
                    : "Give the dead-letter IDs to replay, or --all");
        }
    }

    @Override
    int run(SluiceConfig config, QueueSession session) {
        JobQueue queue = session.queue();
        queue.start();
        List<String> notReplayed = new ArrayList<>();
        int replayed = all ? replayAll(queue, notReplayed) : replay(queue, ids, notReplayed);
        out().println("replayed " + replayed + " dead letter" + (replayed == 1 ? "" : "s") + " to " + session.describe());
        out().flush();
        if (notReplayed.isEmpty()) {
            return ExitCodes.OK;
        }
        err().println("sluice: " + notReplayed.size() + " not replayed (no such dead letter, or it holds no job for "
                + "this queue mode): " + String.join(", ", notReplayed));
        err().flush();
        return all ? ExitCodes.OK : ExitCodes.FAILURE;
    }

    private static int replay(JobQueue queue, List<String> ids, List<String> notReplayed) {
        int n = 0;
        for (String id : ids) {
            if (queue.replayDeadLetters(List.of(id)) == 1) {
                n++;
            } else {
                notReplayed.add(id);
            }
        }
        return n;
    }

    private static int replayAll(JobQueue queue, List<String> notReplayed) {
        String newestAtStart = null;
        Set<String> passedOver = new HashSet<>();
        int replayed = 0;
        while (true) {
            int want = passedOver.size() + PAGE;
            List<DeadLetterEntry> page = queue.deadLetters(want);
            if (page.isEmpty()) {
                break;
            }
            if (newestAtStart == null) {
                newestAtStart = page.getFirst().id();
            }
            List<String> todo = new ArrayList<>();
            for (DeadLetterEntry e : page) {
                if (passedOver.contains(e.id())) {
                    continue;
                }
                if (compareIds(e.id(), newestAtStart) > 0) {
                    passedOver.add(e.id());
                } else {
                    todo.add(e.id());
                }
            }
            if (todo.isEmpty()) {
                break;
            }
            List<String> failed = new ArrayList<>();
            replayed += replay(queue, todo, failed);
            notReplayed.addAll(failed);
            passedOver.addAll(failed);
            if (page.size() < want) {
                break;
            }
        }
        return replayed;
    }

    /** Orders stream entry ids ({@code <ms>-<seq>}). */
    static int compareIds(String a, String b) {
        int c = Long.compare(part(a, 0), part(b, 0));
        return c != 0 ? c : Long.compare(part(a, 1), part(b, 1));
    }

    private static long part(String id, int index) {
        String[] parts = id.split("-", 2);
        return index < parts.length ? Long.parseLong(parts[index]) : 0;
    }
}
