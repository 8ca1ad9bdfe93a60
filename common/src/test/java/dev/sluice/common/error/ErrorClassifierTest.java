package dev.sluice.common.error;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.sluice.testkit.RedisExtension;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.exceptions.JedisBusyException;
import redis.clients.jedis.exceptions.JedisDataException;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Real client exceptions, produced by the real clients against real sockets where the failure can be provoked:
 * a "black hole" server that accepts connections and never answers, and a port nobody listens on.
 */
class ErrorClassifierTest {

    private ServerSocket blackHole;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startBlackHole() throws IOException {
        blackHole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!blackHole.isClosed()) {
                try {
                    accepted.add(blackHole.accept());
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stopBlackHole() throws IOException {
        blackHole.close();
        for (Socket s : accepted) {
            s.close();
        }
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** No handshake on connect, so the black hole accepts pooled connections. */
    private static JedisClientConfig quietClient(int timeoutMs) {
        return DefaultJedisClientConfig.builder().timeoutMillis(timeoutMs)
                .clientSetInfoConfig(ClientSetInfoConfig.DISABLED).build();
    }

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

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
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.POOL_EXHAUSTED);
        }
    }

    @Test
    void redisReadTimeoutIsConnectionTimeout() {
        Throwable failure = catchThrowable(() -> {
            try (Connection connection = new Connection(new HostAndPort("127.0.0.1", blackHole.getLocalPort()),
                    quietClient(100))) {
                connection.ping();
            }
        });
        assertThat(failure).isNotNull();
        assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.CONNECTION_TIMEOUT);
    }

    @Test
    void refusedRedisConnectionIsRedisUnavailable() throws IOException {
        int port = closedPort();
        Throwable failure = catchThrowable(() -> {
            try (Connection connection = new Connection(new HostAndPort("127.0.0.1", port), quietClient(500))) {
                connection.ping();
            }
        });
        assertThat(failure).isNotNull();
        assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
    }

    @Test
    void poolThatCannotConnectIsRedisUnavailableNotExhausted() throws IOException {
        GenericObjectPoolConfig<Connection> poolConfig = new GenericObjectPoolConfig<>();
        poolConfig.setMaxWait(Duration.ofMillis(200));
        try (ConnectionPool pool = new ConnectionPool(new HostAndPort("127.0.0.1", closedPort()), quietClient(500),
                poolConfig)) {
            Throwable failure = catchThrowable(pool::getResource);
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        }
    }

    @Test
    void transientRedisRepliesAreRedisUnavailableAndBugsAreInternal() {
        assertThat(ErrorClassifier.classify(new JedisDataException("LOADING Redis is loading the dataset in memory")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(ErrorClassifier.classify(new JedisDataException("OOM command not allowed when used memory > 'maxmemory'")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(ErrorClassifier.classify(new JedisBusyException("BUSY Redis is busy running a script")))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(ErrorClassifier.classify(new JedisDataException("WRONGTYPE Operation against a key holding the wrong kind of value")))
                .isEqualTo(ErrorKind.INTERNAL);
    }

    @Test
    void hubRequestTimeoutIsHubTimeout() {
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + blackHole.getLocalPort() + "/v1/x"))
                    .timeout(Duration.ofMillis(150)).build();
            Throwable failure = catchThrowable(() -> client.send(request, HttpResponse.BodyHandlers.ofString()));
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.HUB_TIMEOUT);
        }
    }

    @Test
    void hubConnectTimeoutIsHubTimeout() {
        assertThat(ErrorClassifier.classify(new HttpConnectTimeoutException("HTTP connect timed out")))
                .isEqualTo(ErrorKind.HUB_TIMEOUT);
    }

    @Test
    void refusedHubConnectionIsHubUnavailable() throws IOException {
        int port = closedPort();
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/x")).build();
            Throwable failure = catchThrowable(() -> client.send(request, HttpResponse.BodyHandlers.ofString()));
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        }
    }

    @Test
    void asyncHubFailureIsLookedThrough() throws IOException {
        int port = closedPort();
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/x")).build();
            Throwable failure = catchThrowable(() -> client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join());
            assertThat(failure).isInstanceOf(CompletionException.class);
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        }
    }

    @Test
    void unreachableKafkaIsSinkFailure() throws IOException {
        Map<String, Object> props = Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + closedPort(),
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 300,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            Throwable failure = catchThrowable(() -> producer.send(new ProducerRecord<>("results", "k", "v")).get());
            assertThat(failure).isInstanceOfAny(ExecutionException.class, org.apache.kafka.common.errors.TimeoutException.class);
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.SINK_FAILURE);
        }
    }

    @Test
    void resultTooLargeForKafkaIsBadJob() {
        assertThat(ErrorClassifier.classify(new ExecutionException(new RecordTooLargeException("too large"))))
                .isEqualTo(ErrorKind.BAD_JOB);
    }

    @Test
    void unparsableJsonIsBadJob() {
        Throwable failure = catchThrowable(() -> new ObjectMapper().readTree("{\"key\": "));
        assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.BAD_JOB);
    }

    @Test
    void rejectedExecutionIsBackpressure() {
        assertThat(ErrorClassifier.classify(new RejectedExecutionException("full"))).isEqualTo(ErrorKind.BACKPRESSURE);
    }

    @Test
    void classifiedExceptionKeepsItsKindThroughWrappers() {
        SluiceException sinkDown = new SluiceException(ErrorKind.SINK_FAILURE, "sink down");
        assertThat(ErrorClassifier.classify(new CompletionException(new ExecutionException(sinkDown))))
                .isEqualTo(ErrorKind.SINK_FAILURE);
    }

    @Test
    void anythingElseIsInternal() {
        assertThat(ErrorClassifier.classify(new IllegalStateException("bug"))).isEqualTo(ErrorKind.INTERNAL);
        assertThat(ErrorClassifier.classify(new NullPointerException())).isEqualTo(ErrorKind.INTERNAL);
    }
}
