package dev.sluice.testkit;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Gives a test class a real {@link RedisServer}.
 *
 * <pre>{@code
 * @RegisterExtension
 * static RedisExtension redis = RedisExtension.builder().appendOnly(true).build();
 *
 * @Test
 * void keepsJobsAcrossRestart(RedisServer server) { ... }   // or redis.server()
 * }</pre>
 *
 * <p>Registered on a static field (or with {@code @ExtendWith(RedisExtension.class)}), one server serves the
 * whole class; on an instance field, each test gets its own. Before each test a shared server is started
 * again if an earlier test stopped or killed it, and flushed (unless {@link Builder#flushBeforeEach(boolean)}
 * says otherwise), so tests do not see each other's keys. Parameters of type {@link RedisServer} in tests,
 * lifecycle methods and constructors receive the server. Where the server comes from follows
 * {@value RedisServer#MODE_ENV}; see {@link RedisServer}.
 */
public final class RedisExtension extends ResourceExtension<RedisServer> {

    private final RedisServer.Settings settings;
    private final boolean flushBeforeEach;

    /** Default settings; for {@code @ExtendWith(RedisExtension.class)}. */
    public RedisExtension() {
        this(new Builder());
    }

    private RedisExtension(Builder builder) {
        super(RedisServer.class, false);
        // Resolved now, so a bad SLUICE_TEST_REDIS fails at registration rather than in the first test.
        this.settings = builder.server.settings();
        this.flushBeforeEach = builder.flushBeforeEach;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The server of the running class or test. */
    public RedisServer server() {
        return current("Redis server");
    }

    /** Shortcut for {@code server().url()}. */
    public String url() {
        return server().url();
    }

    @Override
    RedisServer open(ExtensionContext context) {
        RedisServer server = new RedisServer(settings);
        try {
            return server.start();
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    @Override
    void beforeTest(RedisServer shared) {
        shared.start();
        if (flushBeforeEach) {
            shared.flushAll();
        }
    }

    /** Builds a {@link RedisExtension}; the server settings are those of {@link RedisServer.Builder}. */
    public static final class Builder {
        private final RedisServer.Builder server = RedisServer.builder();
        private boolean flushBeforeEach = true;

        private Builder() {
        }

        /** See {@link RedisServer.Builder#local()}. */
        public Builder local() {
            server.local();
            return this;
        }

        /** See {@link RedisServer.Builder#external(String)}. */
        public Builder external(String url) {
            server.external(url);
            return this;
        }

        /** See {@link RedisServer.Builder#container(String)}. */
        public Builder container(String image) {
            server.container(image);
            return this;
        }

        /** {@code --appendonly yes|no}; default no. */
        public Builder appendOnly(boolean appendOnly) {
            server.appendOnly(appendOnly);
            return this;
        }

        /** {@code --appendfsync}; default everysec. */
        public Builder appendFsync(RedisServer.AppendFsync appendFsync) {
            server.appendFsync(appendFsync);
            return this;
        }

        /** See {@link RedisServer.Builder#executable(Path)}. */
        public Builder executable(Path executable) {
            server.executable(executable);
            return this;
        }

        /** See {@link RedisServer.Builder#args(String...)}. */
        public Builder args(String... args) {
            server.args(args);
            return this;
        }

        /** See {@link RedisServer.Builder#startupTimeout(Duration)}. */
        public Builder startupTimeout(Duration startupTimeout) {
            server.startupTimeout(startupTimeout);
            return this;
        }

        /** FLUSHALL before every test that shares the server; default true. */
        public Builder flushBeforeEach(boolean flushBeforeEach) {
            this.flushBeforeEach = flushBeforeEach;
            return this;
        }

        public RedisExtension build() {
            return new RedisExtension(this);
        }
    }
}
