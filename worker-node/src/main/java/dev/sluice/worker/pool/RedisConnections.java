package dev.sluice.worker.pool;

import dev.sluice.common.config.RedisConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.EvictionConfig;
import org.apache.commons.pool2.impl.EvictionPolicy;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.DefaultJedisClientConfig;
import dev.sluice.control.RedisClients;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.LongConsumer;

/**
 * The node's Redis connections: one shared pool built from {@code [redis]}, and dedicated connections for the
 * few long blocking readers (the fetcher). Nothing else opens connections, so the count does not grow with job
 * concurrency.
 *
 * <p>{@code connection_timeout_ms} is both the connect timeout and the longest wait to borrow a pooled
 * connection; {@code idle_timeout_secs} and {@code max_connection_lifetime_secs} are enforced by the pool's
 * evictor. Every connection carries a client name {@code sluice:<node>:<role>} so {@code CLIENT LIST} tells who
 * holds what.
 */
public final class RedisConnections implements RedisCalls, AutoCloseable {

    /**
     * The most bytes of bulk strings one array of a pooled connection's reply may bring into the heap (see
     * {@link BoundedReplyConnection}); nothing the pool reads legitimately comes near it.
     */
    public static final int POOL_MAX_ARRAY_BYTES = 16 * 1024 * 1024;

    private final RedisConfig config;
    private final String nodeId;
    private final HostAndPort address;
    private final ConnectionPool pool;
    private final LongAdder borrowTimeouts = new LongAdder();
    private final LongAdder operations = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder socketTimeouts = new LongAdder();
    private final RedisRefusals refusals;
    private volatile LongConsumer borrowWaitRecorder = nanos -> { };
    /** The writers' lane: the completer and the sink writer hold one pooled connection between them. */
    private final Semaphore writers = new Semaphore(1, true);

    public RedisConnections(RedisConfig config, String nodeId) {
        this(config, nodeId, RedisRefusals.unmetered());
    }

    /** @param refusals where error replies to this node's writes are counted */
    public RedisConnections(RedisConfig config, String nodeId, RedisRefusals refusals) {
        this.config = config;
        this.refusals = refusals;
        this.nodeId = nodeId;
        this.address = new HostAndPort(config.url().getHost(), config.url().getPort() < 0 ? 6379 : config.url().getPort());
        this.pool = new ConnectionPool(BoundedReplyConnection.factory(address, clientConfig("pool", config.connectionTimeoutMs()),
                POOL_MAX_ARRAY_BYTES), poolConfig(config));
    }

    /** Receives the wait, in nanoseconds, of every borrow from the pool (for a borrow-wait histogram). */
    public void onBorrowWait(LongConsumer recorder) {
        this.borrowWaitRecorder = recorder;
    }

    /**
     * Runs {@code work} on a pooled connection and gives it back. A borrow that waits longer than
     * {@code connection_timeout_ms} fails with {@link ErrorKind#POOL_EXHAUSTED}, with the pool's state in the
     * message.
     */
    @Override
    public <T> T withJedis(Function<Jedis, T> work) {
        long start = System.nanoTime();
        Connection connection;
        try {
            connection = pool.getResource();
        } catch (RuntimeException e) {
            borrowWaitRecorder.accept(System.nanoTime() - start);
            errors.increment();
            if (RedisErrors.classify(e) == ErrorKind.POOL_EXHAUSTED) {
                borrowTimeouts.increment();
                throw new SluiceException(ErrorKind.POOL_EXHAUSTED, "no Redis connection free within "
                        + config.connectionTimeoutMs() + " ms (pool max " + config.poolSize() + ", active "
                        + pool.getNumActive() + ", idle " + pool.getNumIdle() + ", waiting " + pool.getNumWaiters() + ")", e);
            }
            throw e;
        }
        borrowWaitRecorder.accept(System.nanoTime() - start);
        operations.increment();
        try (Jedis jedis = new Jedis(connection)) {
            return work.apply(jedis);
        } catch (RuntimeException e) {
            recordError(e);
            throw e;
        }
    }

    /**
     * Like {@link #withJedis}, in the writers' lane: the node's two batch writers (the completer's acks and the Redis
     * sink's results) take turns on one pooled connection, which keeps the node at four connections in all (the
     * fetcher's, the writers', the maintenance thread's and the leases' own; see {@link OwnConnection}). Each holds it
     * for one pipelined round trip; the other's batch grows meanwhile.
     */
    public <T> T withWriterJedis(Function<Jedis, T> work) {
        writers.acquireUninterruptibly();
        try {
            return withJedis(work);
        } finally {
            writers.release();
        }
    }

    /**
     * A connection outside the pool for one blocking reader; its socket timeout leaves room for
     * {@code maxBlock} on top of the connect timeout, and no array of its replies brings more than
     * {@code maxArrayBytes} of bulk strings into the heap (see {@link BoundedReplyConnection}). The caller closes it.
     */
    public Jedis dedicated(String role, Duration maxBlock, int maxArrayBytes) {
        int timeout = Math.toIntExact(config.connectionTimeoutMs() + maxBlock.toMillis());
        JedisClientConfig base = clientConfig(role, config.connectionTimeoutMs());
        JedisClientConfig blocking = DefaultJedisClientConfig.builder().from(base)
                .socketTimeoutMillis(timeout).blockingSocketTimeoutMillis(timeout).build();
        return new Jedis(new BoundedReplyConnection(address, blocking, maxArrayBytes));
    }

    /** A sample of the shared pool now. */
    public PoolHealth sample() {
        return new PoolHealth(config.poolSize(), pool.getNumActive(), pool.getNumIdle(), pool.getNumWaiters(),
                pool.getMeanBorrowWaitDuration().toNanos() / 1_000_000.0, borrowTimeouts.sum(), Instant.now());
    }

    /** Borrows that waited past the timeout, since start. */
    public long borrowTimeouts() {
        return borrowTimeouts.sum();
    }

    /** Counts an operation done outside the pool (the fetcher's reads). */
    public void recordOperation() {
        operations.increment();
    }

    /** Borrowed operations since start. */
    public long operations() {
        return operations.sum();
    }

    /** Operations that failed, since start: exceptions, and error replies to writes (see {@link #refusals()}). */
    public long errors() {
        return errors.sum() + refusals.total();
    }

    /** Error replies to this node's writes, and whether Redis refuses writes now. */
    @Override
    public RedisRefusals refusals() {
        return refusals;
    }

    /** Counts a failure seen outside {@link #withJedis} (e.g. by the fetcher on its own connection). */
    public void recordError(RuntimeException e) {
        errors.increment();
        if (RedisErrors.classify(e) == ErrorKind.CONNECTION_TIMEOUT) {
            socketTimeouts.increment();
        }
    }

    /** Redis connect and socket timeouts since start (borrow timeouts are counted apart). */
    public long socketTimeouts() {
        return socketTimeouts.sum();
    }

    public String clientName(String role) {
        return "sluice:" + nodeId + ":" + role;
    }

    public HostAndPort address() {
        return address;
    }

    private JedisClientConfig clientConfig(String role, int timeoutMs) {
        return RedisClients.clientConfig(config, clientName(role), timeoutMs);
    }

    private static GenericObjectPoolConfig<Connection> poolConfig(RedisConfig config) {
        GenericObjectPoolConfig<Connection> pc = new GenericObjectPoolConfig<>();
        pc.setMaxTotal(config.poolSize());
        pc.setMaxIdle(config.poolSize());
        pc.setMinIdle(0);
        pc.setBlockWhenExhausted(true);
        pc.setMaxWait(Duration.ofMillis(config.connectionTimeoutMs()));
        pc.setTestWhileIdle(true);
        pc.setJmxEnabled(false);
        long idle = config.idleTimeoutSecs();
        long life = config.maxConnectionLifetimeSecs();
        long runEvery = Math.max(1, Math.min(30, Math.min(idle == 0 ? 30 : idle, life == 0 ? 30 : life) / 2));
        pc.setTimeBetweenEvictionRuns(Duration.ofSeconds(runEvery));
        pc.setNumTestsPerEvictionRun(-1);
        pc.setEvictionPolicy(new AgeAndIdlePolicy(idle, life));
        return pc;
    }

    /** Evicts idle connections past the idle timeout and any idle connection older than the lifetime. */
    private record AgeAndIdlePolicy(long idleSecs, long lifetimeSecs) implements EvictionPolicy<Connection> {
        @Override
        public boolean evict(EvictionConfig config, PooledObject<Connection> underTest, int idleCount) {
            Instant now = Instant.now();
            if (idleSecs > 0 && Duration.between(underTest.getLastReturnInstant(), now).getSeconds() >= idleSecs) {
                return true;
            }
            return lifetimeSecs > 0 && Duration.between(underTest.getCreateInstant(), now).getSeconds() >= lifetimeSecs;
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
