package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.control.DeadLetterStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * {@code sluice dlq replay}: puts dead letters back on the queue with their attempts reset.
 *
 * <p>{@code --all} replays the dead letters there when it starts, oldest first, a batch at a time; jobs that die
 * again while it runs are left alone, so a job that always fails cannot keep it going. Letters that cannot be
 * replayed (a prefix of an entry too large to read, a job that does not parse) are left and counted
 * ({@link DeadLetterStore}).
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
        DeadLetterStore store = new DeadLetterStore(config.queue());
        if (all) {
            DeadLetterStore.Tally tally = session.redis().withJedis(j -> store.replayAll(j, null, PAGE, t -> { }));
            out().println("replayed " + tally.replayed() + " dead letter" + (tally.replayed() == 1 ? "" : "s") + " to "
                    + session.describe());
            out().flush();
            if (tally.skippedCount() > 0) {
                err().println("sluice: " + tally.skippedCount() + " not replayed, left in " + store.key() + ": "
                        + describe(tally.skipped()) + " (ids: " + String.join(", ", tally.skippedIds()) + ")");
                err().flush();
            }
            return ExitCodes.OK;
        }
        Map<DeadLetterStore.Outcome, List<String>> outcomes = session.redis().withJedis(j -> store.replay(j, ids));
        int replayed = outcomes.getOrDefault(DeadLetterStore.Outcome.REPLAYED, List.of()).size();
        Map<DeadLetterStore.Outcome, List<String>> notReplayed = new EnumMap<>(outcomes);
        notReplayed.remove(DeadLetterStore.Outcome.REPLAYED);
        out().println("replayed " + replayed + " dead letter" + (replayed == 1 ? "" : "s") + " to " + session.describe());
        out().flush();
        if (notReplayed.isEmpty()) {
            return ExitCodes.OK;
        }
        int count = notReplayed.values().stream().mapToInt(List::size).sum();
        List<String> why = new ArrayList<>();
        notReplayed.forEach((o, which) -> why.add(String.join(", ", which) + ": " + o.why()));
        err().println("sluice: " + count + " not replayed: " + String.join("; ", why));
        err().flush();
        return ExitCodes.FAILURE;
    }

    private static String describe(Map<DeadLetterStore.Outcome, Integer> skipped) {
        List<String> parts = new ArrayList<>();
        skipped.forEach((o, n) -> parts.add(n + " because " + o.why()));
        return String.join("; ", parts);
    }
}
