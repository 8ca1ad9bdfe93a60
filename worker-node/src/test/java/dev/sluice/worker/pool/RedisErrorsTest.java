package dev.sluice.worker.pool;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.testkit.RedisExtension;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import dev.sluice.testkit.BlackHole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.exceptions.JedisBusyException;
import redis.clients.jedis.exceptions.JedisDataException;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Jedis's real exceptions, produced against real sockets where the failure can be provoked: a "black hole" server
 * that accepts connections and never answers, a port nobody listens on, and a real redis-server.
 */
class RedisErrorsTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();


    /** No handshake on connect, so the black hole accepts pooled connections. */
    private static JedisClientConfig quietClient(int timeoutMs) {
        return DefaultJedisClientConfig.builder().timeoutMillis(timeoutMs)
                .clientSetInfoConfig(ClientSetInfoConfig.DISABLED).build();
    }

    @Test
    void exhaustedJedisPoolIsPoolExhausted() {
        GenericObjectPoolConfig<Connection> poolConfig = new GenericObjectPoolConfig<>();
        poolConfig.setMaxTotal(1);
        poolConfig.setMaxWait(Duration.ofMillis(50));
        try (ConnectionPool pool = new ConnectionPool(new HostAndPort(redis.server().host(), redis.server().port()),
                quietClient(1000), poolConfig);
             Connection held = pool.getResource()) {
            assertThat(held).isNotNull();
            Throwable failure = catchThrowable(pool::getResource);
            assertThat(RedisErrors.classify(failure)).isEqualTo(ErrorKind.POOL_EXHAUSTED);
        }
    }

    @Test
    void redisReadTimeoutIsConnectionTimeout() throws IOException {
        Throwable failure;
        try (BlackHole blackHole = new BlackHole()) {
            failure = catchThrowable(() -> {
                try (Connection connection = new Connection(new HostAndPort("127.0.0.1", blackHole.port()),
                        quietClient(100))) {
                    connection.ping();
                }
            });
        }
        assertThat(failure).isNotNull();
        assertThat(RedisErrors.classify(failure)).isEqualTo(ErrorKind.CONNECTION_TIMEOUT);
    }

    @Test
    void refusedRedisConnectionIsRedisUnavailable() throws IOException {
        int port = BlackHole.closedPort();
        Throwable failure = catchThrowable(() -> {
            try (Connection connection = new Connection(new HostAndPort("127.0.0.1", port), quietClient(500))) {
                connection.ping();
            }
        });
        assertThat(failure).isNotNull();
        assertThat(RedisErrors.classify(failure)).isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
    }

    @Test
    void poolThatCannotConnectIsRedisUnavailableNotExhausted() throws IOException {
        GenericObjectPoolConfig<Connection> poolConfig = new GenericObjectPoolConfig<>();
        poolConfig.setMaxWait(Duration.ofMillis(200));
        try (ConnectionPool pool = new ConnectionPool(new HostAndPort("127.0.0.1", BlackHole.closedPort()), quietClient(500),
                poolConfig)) {
            Throwable failure = catchThrowable(pool::getResource);
            assertThat(RedisErrors.classify(failure)).isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        }
    }

    @Test
    void transientRedisRepliesAreRedisUnavailableAndBugsAreInternal() {
        assertThat(RedisErrors.classify(new JedisDataException("LOADING Redis is loading the dataset in memory")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(RedisErrors.classify(new JedisDataException("OOM command not allowed when used memory > 'maxmemory'")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(RedisErrors.classify(new JedisBusyException("BUSY Redis is busy running a script")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(RedisErrors.classify(new JedisDataException("WRONGTYPE Operation against a key holding the wrong kind of value")))
                .isEqualTo(ErrorKind.INTERNAL);
    }

    @Test
    void aRedisFailureKeepsItsKindThroughWrappersAndARealReplyIsRead() {
        Throwable failure = catchThrowable(() -> {
            try (redis.clients.jedis.Jedis jedis = new redis.clients.jedis.Jedis(redis.server().host(),
                    redis.server().port())) {
                jedis.set("a-string", "x");
                jedis.lpush("a-string", "y");
            }
        });
        assertThat(failure).isInstanceOf(JedisDataException.class).hasMessageStartingWith("WRONGTYPE");
        assertThat(RedisErrors.classify(new CompletionException(failure))).isEqualTo(ErrorKind.INTERNAL);
        assertThat(RedisErrors.classify(new CompletionException(new JedisDataException("READONLY You can't write"))))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
    }

    @Test
    void whatIsNotRedissIsLeftToTheCommonRules() {
        assertThat(RedisErrors.classify(new IOException("not Redis's"))).isEqualTo(ErrorKind.INTERNAL);
        assertThat(RedisErrors.classify(new java.util.concurrent.RejectedExecutionException("full")))
                .isEqualTo(ErrorKind.BACKPRESSURE);
    }
}
