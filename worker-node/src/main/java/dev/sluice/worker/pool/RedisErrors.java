package dev.sluice.worker.pool;

import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisBusyException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

import java.net.SocketTimeoutException;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * What Jedis's exceptions mean, for the code that talks to Redis: a read timeout is
 * {@link ErrorKind#CONNECTION_TIMEOUT}, an unreachable, busy, full or read-only Redis is
 * {@link ErrorKind#REDIS_UNAVAILABLE}, a borrow that waited too long is {@link ErrorKind#POOL_EXHAUSTED}, and
 * any other error reply is a bug ({@link ErrorKind#INTERNAL}).
 */
public final class RedisErrors {

    /** Replies Redis gives while it cannot serve now; another try later may succeed. */
    private static final List<String> TRANSIENT_REPLIES = List.of("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "OOM",
            "READONLY", "CLUSTERDOWN", "NOAUTH", "WRONGPASS");

    private RedisErrors() {
    }

    /** Jedis's exceptions as kinds, for {@link ErrorClassifier#classify(Throwable, ErrorClassifier.Translator)}. */
    public static final ErrorClassifier.Translator TRANSLATOR = RedisErrors::kindOf;

    public static ErrorKind classify(Throwable failure) {
        return ErrorClassifier.classify(failure, TRANSLATOR);
    }

    private static ErrorKind kindOf(Throwable t) {
        if (t instanceof JedisConnectionException) {
            return ErrorClassifier.hasCause(t, SocketTimeoutException.class) ? ErrorKind.CONNECTION_TIMEOUT
                    : ErrorKind.REDIS_UNAVAILABLE;
        }
        if (t instanceof JedisBusyException || t instanceof JedisAccessControlException) {
            return ErrorKind.REDIS_UNAVAILABLE;
        }
        if (t instanceof JedisDataException) {
            return isTransientReply(t.getMessage()) ? ErrorKind.REDIS_UNAVAILABLE : ErrorKind.INTERNAL;
        }
        if (t instanceof JedisException && t.getCause() instanceof NoSuchElementException nse
                && nse.getCause() == null) {
            // commons-pool: no cause means the borrow wait ran out; with a cause, creating a connection failed, and
            // the walk goes on to that cause.
            return ErrorKind.POOL_EXHAUSTED;
        }
        return null;
    }

    private static boolean isTransientReply(String message) {
        return message != null && TRANSIENT_REPLIES.stream().anyMatch(message::startsWith);
    }
}
