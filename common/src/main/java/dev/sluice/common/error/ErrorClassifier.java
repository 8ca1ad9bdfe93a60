package dev.sluice.common.error;

import com.fasterxml.jackson.core.JacksonException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisBusyException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * Maps real client exceptions (Jedis, {@code java.net.http}, Kafka, Jackson) onto {@link ErrorKind}.
 *
 * <p>The cause chain is walked from the outside in and the first exception that says something specific decides;
 * wrappers such as {@link CompletionException} are looked through. Redis I/O always arrives wrapped in a
 * {@link JedisConnectionException} and Kafka's in a {@link KafkaException}, so a bare {@link IOException} comes
 * from the Hub's HTTP client and means the Hub is unreachable.
 */
public final class ErrorClassifier {

    private ErrorClassifier() {
    }

    public static ErrorKind classify(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            ErrorKind kind = classifyOne(t);
            if (kind != null) {
                return kind;
            }
        }
        return ErrorKind.INTERNAL;
    }

    private static ErrorKind classifyOne(Throwable t) {
        if (t instanceof SluiceException s) {
            return s.kind();
        }
        if (t instanceof CompletionException || t instanceof ExecutionException) {
            return null;
        }
        if (t instanceof JedisConnectionException) {
            return hasCause(t, SocketTimeoutException.class) ? ErrorKind.CONNECTION_TIMEOUT : ErrorKind.REDIS_UNAVAILABLE;
        }
        if (t instanceof JedisBusyException || t instanceof JedisAccessControlException) {
            return ErrorKind.REDIS_UNAVAILABLE;
        }
        if (t instanceof JedisDataException) {
            return isTransientRedisReply(t.getMessage()) ? ErrorKind.REDIS_UNAVAILABLE : ErrorKind.INTERNAL;
        }
        if (t instanceof JedisException && t.getCause() instanceof NoSuchElementException nse) {
            // commons-pool: no cause means the borrow wait ran out; a cause means creating a connection failed.
            return nse.getCause() == null ? ErrorKind.POOL_EXHAUSTED : classify(nse.getCause());
        }
        if (t instanceof JedisException) {
            return null;
        }
        if (t instanceof HttpTimeoutException || t instanceof SocketTimeoutException) {
            return ErrorKind.HUB_TIMEOUT;
        }
        if (t instanceof RecordTooLargeException) {
            return ErrorKind.BAD_JOB;
        }
        if (t instanceof KafkaException) {
            return ErrorKind.SINK_FAILURE;
        }
        if (t instanceof JacksonException) {
            return ErrorKind.BAD_JOB;
        }
        if (t instanceof IOException) {
            return ErrorKind.HUB_UNAVAILABLE;
        }
        if (t instanceof RejectedExecutionException) {
            return ErrorKind.BACKPRESSURE;
        }
        return null;
    }

    private static boolean isTransientRedisReply(String message) {
        if (message == null) {
            return false;
        }
        for (String prefix : new String[] {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "OOM", "READONLY",
                "CLUSTERDOWN", "NOAUTH", "WRONGPASS"}) {
            if (message.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}
