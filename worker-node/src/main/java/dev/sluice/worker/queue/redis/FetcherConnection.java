package dev.sluice.worker.queue.redis;

import dev.sluice.worker.pool.RedisConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;

import java.time.Duration;

/**
 * The fetcher's own Redis connection, outside the pool: opened on first use, reopened after it broke. A failed
 * call is counted and closes it, so the next call starts on a fresh connection.
 */
public final class FetcherConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FetcherConnection.class);

    private final RedisConnections redis;
    private final int maxArrayBytes;
    private Jedis jedis;

    /** @param maxArrayBytes the most bytes of one reply array kept in the heap (see BoundedReplyConnection) */
    public FetcherConnection(RedisConnections redis, int maxArrayBytes) {
        this.redis = redis;
        this.maxArrayBytes = maxArrayBytes;
    }

    /** The connection, able to block for {@code block}; counts one operation. */
    public Jedis get(Duration block) {
        if (jedis == null || !jedis.isConnected() || jedis.isBroken()) {
            close();
            jedis = redis.dedicated("fetcher", block.plusSeconds(1), maxArrayBytes);
        }
        redis.recordOperation();
        return jedis;
    }

    /** Counts the failure and drops the connection; the caller rethrows. */
    public void failed(RuntimeException e) {
        redis.recordError(e);
        close();
    }

    @Override
    public void close() {
        if (jedis != null) {
            try {
                jedis.close();
            } catch (RuntimeException e) {
                log.debug("closing the fetcher connection failed", e);
            }
            jedis = null;
        }
    }
}
