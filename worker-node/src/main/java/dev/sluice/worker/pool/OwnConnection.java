package dev.sluice.worker.pool;

import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.function.Function;

/**
 * One Redis connection outside the pool, for calls that must never wait behind it: the node's leases (its liveness
 * record and the fleet's grantor lease). It is opened on first use and opened again after it broke; its operations
 * and failures count with the pool's ({@link RedisConnections#operations()}, {@link RedisConnections#errors()}).
 * Meant for one thread; calls from others take turns.
 */
public final class OwnConnection implements RedisCalls, AutoCloseable {
    private final RedisConnections redis;
    private final String role;
    private Jedis jedis;
    private boolean closed;

    /** @param role the client name's last part ({@code sluice:<node>:<role>}) */
    public OwnConnection(RedisConnections redis, String role) {
        this.redis = redis;
        this.role = role;
    }

    @Override
    public synchronized <T> T withJedis(Function<Jedis, T> work) {
        if (closed) {
            throw new IllegalStateException("the " + role + " connection is closed");
        }
        try {
            if (jedis == null || !jedis.isConnected() || jedis.isBroken()) {
                if (jedis != null) {
                    closeQuietly();
                }
                jedis = redis.dedicated(role, Duration.ZERO, RedisConnections.POOL_MAX_ARRAY_BYTES);
            }
            redis.recordOperation();
            return work.apply(jedis);
        } catch (RuntimeException e) {
            redis.recordError(e);
            if (jedis != null && jedis.isBroken()) {
                closeQuietly();
            }
            throw e;
        }
    }

    @Override
    public RedisRefusals refusals() {
        return redis.refusals();
    }

    private void closeQuietly() {
        try {
            jedis.close();
        } catch (RuntimeException ignored) {
            // A broken connection may fail to say goodbye; it is dropped either way.
        }
        jedis = null;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (jedis != null) {
            closeQuietly();
        }
    }
}
