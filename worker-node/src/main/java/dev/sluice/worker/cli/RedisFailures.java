package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.SluiceException;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

/** Puts a failure to talk to Redis into one line for the operator, naming the server (never its password). */
final class RedisFailures {
    private RedisFailures() {
    }

    /** True for failures {@link #describe} knows how to word. */
    static boolean isRedisFailure(Throwable e) {
        return e instanceof JedisException || e instanceof SluiceException s && switch (s.kind()) {
            case POOL_EXHAUSTED, CONNECTION_TIMEOUT, REDIS_UNAVAILABLE -> true;
            default -> false;
        };
    }

    static CliException describe(RuntimeException e, SluiceConfig config) {
        String server = config.redis().redactedUrl();
        Throwable denied = find(e, JedisAccessControlException.class);
        if (denied != null) {
            return new CliException(ExitCodes.FAILURE, "Redis at " + server + " refused the credentials: "
                    + denied.getMessage(), e);
        }
        if (find(e, JedisConnectionException.class) != null) {
            return new CliException(ExitCodes.FAILURE, "cannot reach Redis at " + server + ": " + rootMessage(e), e);
        }
        if (e instanceof JedisDataException) {
            return new CliException(ExitCodes.FAILURE, "Redis at " + server + " answered an error: " + e.getMessage(), e);
        }
        return new CliException(ExitCodes.FAILURE, "Redis at " + server + ": " + rootMessage(e), e);
    }

    private static <T extends Throwable> T find(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /**
     * The innermost message, which names the actual cause, with the first suppressed cause where the client keeps
     * it ("Failed to connect to 127.0.0.1:6379 (Connection refused)").
     */
    static String rootMessage(Throwable e) {
        String message = e.toString();
        String suppressed = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                message = t.getMessage().strip();
            }
            for (Throwable s : t.getSuppressed()) {
                if (suppressed == null && s.getMessage() != null && !s.getMessage().isBlank()) {
                    suppressed = s.getMessage().strip();
                }
            }
        }
        if (message.endsWith(".")) {
            message = message.substring(0, message.length() - 1);
        }
        return suppressed == null || message.contains(suppressed) ? message : message + " (" + suppressed + ")";
    }
}
