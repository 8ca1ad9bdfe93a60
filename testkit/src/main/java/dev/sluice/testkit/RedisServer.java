package dev.sluice.testkit;

import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * A real Redis server for a test, started and stopped by the test itself.
 *
 * <p>Where the server comes from is chosen by the environment variable {@value #MODE_ENV} unless the builder
 * names a mode explicitly:
 * <ul>
 *   <li>unset or {@code local}: {@code redis-server} from the {@code PATH}, on a free port of 127.0.0.1,
 *       with its own temporary data directory. It can be stopped, killed with SIGKILL and started again on
 *       the same port and data directory, so with AOF on a test can check what survives a crash.</li>
 *   <li>{@code redis://host:port[/db]}: an existing server the test may use and flush but not stop; a test
 *       that calls {@link #stop()}, {@link #kill()} or {@link #restart()} is aborted (skipped) with the
 *       reason.</li>
 *   <li>{@code container}: a Testcontainers container of {@value #IMAGE_ENV} (default
 *       {@value #DEFAULT_IMAGE}); when no Docker engine answers, {@link #start()} aborts the test.</li>
 * </ul>
 *
 * <p>Instances are not reusable once closed. All methods are thread-safe.
 */
public final class RedisServer implements AutoCloseable {

    /** Selects where the server comes from: {@code local}, {@code container} or a {@code redis://} URL. */
    public static final String MODE_ENV = "SLUICE_TEST_REDIS";
    /** The image for container mode. */
    public static final String IMAGE_ENV = "SLUICE_TEST_REDIS_IMAGE";
    public static final String DEFAULT_IMAGE = "redis:7";

    /** Where the server comes from. */
    public enum Mode { LOCAL, EXTERNAL, CONTAINER }

    /** Redis' {@code appendfsync} policy. */
    public enum AppendFsync {
        ALWAYS, EVERYSEC, NO;

        String argument() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private enum State { NEW, RUNNING, STOPPED, CLOSED }

    private static final Duration PING_INTERVAL = Duration.ofMillis(20);

    private final Settings settings;
    private final Backend backend;
    private State state = State.NEW;

    RedisServer(Settings settings) {
        this.settings = settings;
        this.backend = switch (settings.mode()) {
            case LOCAL -> new LocalRedisProcess(settings);
            case EXTERNAL -> new ExternalRedis(settings);
            case CONTAINER -> new ContainerRedis(settings);
        };
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the server, or starts it again after {@link #stop()} or {@link #kill()} on the same port and
     * data directory, and returns once it answers PING. Does nothing if it is running; a local server whose
     * process died on its own is started again.
     *
     * @throws org.opentest4j.TestAbortedException in container mode when no Docker engine answers
     * @throws IllegalStateException in local mode when {@code redis-server} is not installed or does not come up
     */
    public synchronized RedisServer start() {
        requireNotClosed();
        if (state != State.RUNNING || !backend.isAlive()) {
            backend.start();
            state = State.RUNNING;
        }
        return this;
    }

    /** Shuts the server down gracefully (SIGTERM: the AOF is flushed and fsynced). Data stays on disk. */
    public synchronized void stop() {
        requireNotClosed();
        if (state == State.RUNNING) {
            backend.stop();
            state = State.STOPPED;
        }
    }

    /** Kills the server with SIGKILL, as a crash would; only what was fsynced to the AOF survives. */
    public synchronized void kill() {
        requireNotClosed();
        if (state == State.RUNNING) {
            backend.kill();
            state = State.STOPPED;
        }
    }

    /** {@link #stop()} then {@link #start()}: same port, same data. */
    public synchronized void restart() {
        stop();
        start();
    }

    /** Whether the server was started and has not been stopped or killed, and its process still lives. */
    public synchronized boolean isRunning() {
        return state == State.RUNNING && backend.isAlive();
    }

    public Mode mode() {
        return settings.mode();
    }

    public synchronized String host() {
        requireStartedOnce();
        return backend.host();
    }

    public synchronized int port() {
        requireStartedOnce();
        return backend.port();
    }

    /** {@code redis://host:port} (or the external server's URL as given, with its database and credentials). */
    public synchronized String url() {
        requireStartedOnce();
        return backend.url();
    }

    /** A new connection the caller must close. */
    public synchronized Jedis newJedis() {
        requireStartedOnce();
        return backend.connect(2_000);
    }

    /** Deletes every key of every database. */
    public void flushAll() {
        try (Jedis jedis = newJedis()) {
            jedis.flushAll();
        }
    }

    /** The data directory ({@code --dir}) of a local server; empty in the other modes. */
    public synchronized Optional<Path> dataDir() {
        return backend instanceof LocalRedisProcess local ? Optional.ofNullable(local.dir()) : Optional.empty();
    }

    /** The OS process id of a running local server; empty in the other modes or when it is not running. */
    public synchronized OptionalLong pid() {
        return backend instanceof LocalRedisProcess local ? local.pid() : OptionalLong.empty();
    }

    /** Stops the server at once (its data is discarded) and deletes its temporary directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (state != State.CLOSED) {
            state = State.CLOSED;
            backend.close();
        }
    }

    @Override
    public synchronized String toString() {
        return "RedisServer[" + settings.mode().name().toLowerCase(Locale.ROOT) + ", " + state.name().toLowerCase(Locale.ROOT)
                + (state == State.NEW || state == State.CLOSED ? "" : ", " + backend.url()) + "]";
    }

    private void requireNotClosed() {
        if (state == State.CLOSED) {
            throw new IllegalStateException("this RedisServer is closed");
        }
    }

    private void requireStartedOnce() {
        requireNotClosed();
        if (state == State.NEW) {
            throw new IllegalStateException("this RedisServer was never started: call start() first");
        }
    }

    /**
     * Polls PING until the server answers, {@code alive} turns false (returns false) or {@code timeout}
     * passes (throws with {@code diagnostics}).
     */
    static boolean awaitPing(Backend backend, Duration timeout, BooleanSupplier alive, Supplier<String> diagnostics) {
        long deadline = System.nanoTime() + timeout.toNanos();
        JedisException last = null;
        while (System.nanoTime() < deadline) {
            if (!alive.getAsBoolean()) {
                return false;
            }
            try (Jedis jedis = backend.connect(500)) {
                if ("PONG".equals(jedis.ping())) {
                    return true;
                }
            } catch (JedisException e) {
                // Still loading the AOF or not listening yet: both end on their own.
                last = e;
            }
            try {
                Thread.sleep(PING_INTERVAL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for Redis at " + backend.url(), e);
            }
        }
        throw new IllegalStateException("Redis at " + backend.url() + " did not answer PING within " + timeout
                + (last == null ? "" : " (last error: " + last.getMessage() + ")") + diagnostics.get(), last);
    }

    /** Client settings for the testkit's own connections: RESP as the server offers it, without negotiation. */
    static DefaultJedisClientConfig.Builder clientConfig(int timeoutMillis) {
        return DefaultJedisClientConfig.builder().timeoutMillis(timeoutMillis).serverDefaultProtocol();
    }

    /** The parts that differ between a local process, an external server and a container. */
    interface Backend {
        void start();

        void stop();

        void kill();

        boolean isAlive();

        String host();

        int port();

        default String url() {
            return "redis://" + host() + ":" + port();
        }

        default Jedis connect(int timeoutMillis) {
            return new Jedis(host(), port(), clientConfig(timeoutMillis).build());
        }

        void close();
    }

    /** What a server is built from; the extension keeps one and builds a fresh server from it per class or test. */
    record Settings(Mode mode, String externalUrl, String image, Path executable, boolean appendOnly,
                    AppendFsync appendFsync, List<String> extraArgs, Map<String, String> processEnv,
                    Duration startupTimeout) {
    }

    /** Builds a {@link RedisServer}; {@link #build()} may be called more than once. */
    public static final class Builder {
        private Mode mode;
        private String externalUrl;
        private String image;
        private Path executable;
        private boolean appendOnly;
        private AppendFsync appendFsync = AppendFsync.EVERYSEC;
        private final List<String> extraArgs = new ArrayList<>();
        private final Map<String, String> processEnv = new LinkedHashMap<>();
        private Duration startupTimeout = Duration.ofSeconds(20);
        private Map<String, String> environment = System.getenv();

        private Builder() {
        }

        /** Run {@code redis-server} locally whatever {@value #MODE_ENV} says. */
        public Builder local() {
            this.mode = Mode.LOCAL;
            return this;
        }

        /** Use the server at {@code url} ({@code redis://host:port[/db]}) whatever {@value #MODE_ENV} says. */
        public Builder external(String url) {
            this.mode = Mode.EXTERNAL;
            this.externalUrl = checkRedisUrl(url, "external url");
            return this;
        }

        /** Run {@code image} with Testcontainers whatever {@value #MODE_ENV} says. */
        public Builder container(String image) {
            this.mode = Mode.CONTAINER;
            this.image = requireText(image, "image");
            return this;
        }

        /** {@code --appendonly yes|no}; default no. */
        public Builder appendOnly(boolean appendOnly) {
            this.appendOnly = appendOnly;
            return this;
        }

        /** {@code --appendfsync}; default everysec. */
        public Builder appendFsync(AppendFsync appendFsync) {
            this.appendFsync = Objects.requireNonNull(appendFsync, "appendFsync");
            return this;
        }

        /** The {@code redis-server} binary for local mode; default: the first one on {@code PATH}. */
        public Builder executable(Path executable) {
            this.executable = Objects.requireNonNull(executable, "executable");
            return this;
        }

        /** More {@code redis-server} arguments, for example {@code "--maxmemory", "64mb"}; local and container modes. */
        public Builder args(String... args) {
            extraArgs.addAll(Arrays.asList(args));
            return this;
        }

        /**
         * An environment variable of the {@code redis-server} process, for example {@code LD_PRELOAD} to run it under
         * libfaketime; local mode only (another mode fails at {@link #build()}). It applies to every start.
         */
        public Builder env(String name, String value) {
            processEnv.put(requireText(name, "environment variable name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** How long {@link RedisServer#start()} waits for PING; default 20 s. */
        public Builder startupTimeout(Duration startupTimeout) {
            if (startupTimeout.isNegative() || startupTimeout.isZero()) {
                throw new IllegalArgumentException("startupTimeout must be positive, but was " + startupTimeout);
            }
            this.startupTimeout = startupTimeout;
            return this;
        }

        /** The environment the mode is read from; for tests of the testkit itself. */
        Builder environment(Map<String, String> environment) {
            this.environment = Map.copyOf(environment);
            return this;
        }

        /** A new, not yet started server. */
        public RedisServer build() {
            return new RedisServer(settings());
        }

        Settings settings() {
            Mode resolvedMode = mode;
            String resolvedUrl = externalUrl;
            String resolvedImage = image;
            if (resolvedMode == null) {
                String value = environment.getOrDefault(MODE_ENV, "").strip();
                if (value.isEmpty() || value.equalsIgnoreCase("local")) {
                    resolvedMode = Mode.LOCAL;
                } else if (value.equalsIgnoreCase("container")) {
                    resolvedMode = Mode.CONTAINER;
                } else if (value.startsWith("redis://") || value.startsWith("rediss://")) {
                    resolvedMode = Mode.EXTERNAL;
                    resolvedUrl = checkRedisUrl(value, MODE_ENV);
                } else {
                    throw new IllegalArgumentException(MODE_ENV + " must be 'local', 'container' or a redis:// URL, but was '"
                            + value + "'");
                }
            }
            if (resolvedMode == Mode.CONTAINER && resolvedImage == null) {
                String fromEnv = environment.getOrDefault(IMAGE_ENV, "").strip();
                resolvedImage = fromEnv.isEmpty() ? DEFAULT_IMAGE : fromEnv;
            }
            if (!processEnv.isEmpty() && resolvedMode != Mode.LOCAL) {
                throw new IllegalArgumentException("environment variables for redis-server (" + processEnv.keySet()
                        + ") apply to a local server only, but the mode is " + resolvedMode);
            }
            return new Settings(resolvedMode, resolvedUrl, resolvedImage, executable, appendOnly, appendFsync,
                    List.copyOf(extraArgs), Map.copyOf(processEnv), startupTimeout);
        }

        private static String checkRedisUrl(String url, String what) {
            requireText(url, what);
            URI uri;
            try {
                uri = URI.create(url);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " must be a redis://host:port URL, but was '" + url + "'", e);
            }
            if (!("redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme())) || uri.getHost() == null
                    || uri.getPort() == -1) {
                throw new IllegalArgumentException(what + " must be a redis://host:port URL (port included), but was '"
                        + url + "'");
            }
            return url;
        }

        private static String requireText(String value, String what) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException(what + " must not be blank, but was '" + value + "'");
            }
            return value;
        }
    }

    /** Where {@code redis-server} is, or an error that says how to get it. */
    static Path findExecutable(Path configured, String pathEnv) {
        if (configured != null) {
            if (!Files.isExecutable(configured)) {
                throw new IllegalStateException("redis-server executable " + configured + " does not exist or is not executable");
            }
            return configured;
        }
        String path = Objects.requireNonNullElse(pathEnv, "");
        for (String entry : path.split(File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(entry, "redis-server");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("redis-server was not found on PATH (" + path + "). The testkit starts a real "
                + "Redis for tests: install it (Debian/Ubuntu: apt-get install -y redis-server), or set " + MODE_ENV
                + " to the redis:// URL of a server the tests may flush, or to 'container' to run " + DEFAULT_IMAGE
                + " with Docker.");
    }
}
