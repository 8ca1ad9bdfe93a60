package dev.sluice.worker.queue;

import dev.sluice.worker.pool.RedisRefusals;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads every reply of a completion pipeline. Jedis reports an error reply only when it is read, so a pipeline
 * whose replies are not read loses refused writes silently; this is the one place that reads them.
 */
final class Replies {
    private final RedisRefusals refusals;
    private final List<Completion> completions = new ArrayList<>();
    private final List<List<Response<?>>> replies = new ArrayList<>();
    private final List<String> commands = new ArrayList<>();

    Replies(RedisRefusals refusals) {
        this.refusals = refusals;
    }

    /** Registers the replies that together apply {@code completion}; {@code command} names it in metrics. */
    void expect(Completion completion, String command, List<Response<?>> its) {
        completions.add(completion);
        commands.add(command);
        replies.add(its);
    }

    /** After the pipeline's sync: the completions Redis refused, each with its error reply. */
    List<Refused> read() {
        List<Refused> refused = new ArrayList<>();
        boolean anyAccepted = false;
        for (int i = 0; i < completions.size(); i++) {
            JedisDataException error = null;
            for (Response<?> r : replies.get(i)) {
                try {
                    r.get();
                } catch (JedisDataException e) {
                    error = e;
                    break;
                }
            }
            if (error == null) {
                // A plain ack is no sign that Redis takes writes again: XACK and XDEL are served even when full.
                anyAccepted |= !(completions.get(i) instanceof Completion.Ack);
            } else {
                refused.add(new Refused(completions.get(i), refusals.refused(commands.get(i), error)));
            }
        }
        if (anyAccepted) {
            refusals.accepted();
        }
        return refused;
    }

    /** The command name used in metrics for a completion. */
    static String command(Completion c) {
        return switch (c) {
            case Completion.Ack a -> "complete-ack";
            case Completion.Retry r -> "complete-retry";
            case Completion.DeadLetter d -> "complete-dead-letter";
            case Completion.HandBack h -> "complete-hand-back";
        };
    }
}
