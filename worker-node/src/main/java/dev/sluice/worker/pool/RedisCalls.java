package dev.sluice.worker.pool;

import redis.clients.jedis.Jedis;

import java.util.function.Function;

/** Where a component's Redis calls run: the node's shared pool, or a connection of the component's own. */
public interface RedisCalls {

    /** Runs {@code work} on a connection; the connection stays the caller's only while {@code work} runs. */
    <T> T withJedis(Function<Jedis, T> work);

    /** Where error replies to writes are counted, and whether Redis refuses writes now. */
    RedisRefusals refusals();
}
