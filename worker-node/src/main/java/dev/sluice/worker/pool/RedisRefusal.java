package dev.sluice.worker.pool;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;

import java.io.Serial;
import java.time.Duration;

/**
 * Redis answered a write with an error reply: nothing of that write happened, and whatever depended on it (the
 * acknowledgement of a job) must not happen either. Recoverable: the write is tried again once Redis accepts writes.
 */
public final class RedisRefusal extends SluiceException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String command;
    private final String reason;

    RedisRefusal(String command, String reason, String reply, Throwable cause) {
        super(ErrorKind.REDIS_UNAVAILABLE, "Redis refused " + command + " (" + reason + "): " + reply, cause,
                Duration.ofSeconds(1));
        this.command = command;
        this.reason = reason;
    }

    /** How long to wait before trying again. */
    public Duration suggestedDelay() {
        return retryAfter().orElse(Duration.ofSeconds(1));
    }

    /** The command or script Redis refused. */
    public String command() {
        return command;
    }

    /** The error code of the reply: OOM, READONLY, WRONGTYPE, ... or ERR. */
    public String reason() {
        return reason;
    }
}
