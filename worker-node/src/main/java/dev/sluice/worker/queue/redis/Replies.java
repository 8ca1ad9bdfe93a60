package dev.sluice.worker.queue.redis;

import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Enqueued;
import dev.sluice.worker.queue.Refused;
import dev.sluice.worker.pool.RedisRefusal;
import dev.sluice.worker.pool.RedisRefusals;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads every reply of a completion pipeline. Jedis reports an error reply only when it is read, so a pipeline
 * whose replies are not read loses refused writes silently; this is the one place that reads them.
 */
public final class Replies {
    private final RedisRefusals refusals;
    private final List<Completion> completions = new ArrayList<>();
    private final List<List<Response<?>>> replies = new ArrayList<>();
    private final List<String> commands = new ArrayList<>();

    public Replies(RedisRefusals refusals) {
        this.refusals = refusals;
    }

    /** Registers the replies that together apply {@code completion}; {@code command} names it in metrics. */
    public void expect(Completion completion, String command, List<Response<?>> its) {
        completions.add(completion);
        commands.add(command);
        replies.add(its);
    }

    /** After the pipeline's sync: the completions Redis refused, each with its error reply. */
    public List<Refused> read() {
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
    public static String command(Completion c) {
        return switch (c) {
            case Completion.Ack a -> "complete-ack";
            case Completion.Retry r -> "complete-retry";
            case Completion.DeadLetter d -> "complete-dead-letter";
            case Completion.HandBack h -> "complete-hand-back";
        };
    }

    /**
     * What Redis did with a pipelined batch of new jobs, from its replies, every one of them read: a refusal (full,
     * read-only) is counted and the first kept.
     */
    public static Enqueued enqueued(List<? extends Response<?>> replies, String command, RedisRefusals refusals) {
        int accepted = 0;
        int refused = 0;
        RedisRefusal first = null;
        for (Response<?> r : replies) {
            try {
                r.get();
                accepted++;
            } catch (JedisDataException e) {
                RedisRefusal refusal = refusals.refused(command, e);
                if (first == null) {
                    first = refusal;
                }
                refused++;
            }
        }
        if (accepted > 0) {
            refusals.accepted();
        }
        return new Enqueued(accepted, refused, first);
    }
}
