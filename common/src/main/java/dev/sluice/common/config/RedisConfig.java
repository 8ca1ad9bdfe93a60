package dev.sluice.common.config;

import java.net.URI;
import java.util.List;

/**
 * {@code [redis]}: the server and the shared connection pool. Keys and defaults are the seed system's.
 *
 * @param url                        {@code redis://[user:password@]host:port[/db]} or {@code rediss://} for TLS
 * @param poolSize                   connections in the shared pool (the fetcher has its own)
 * @param connectionTimeoutMs        both the connect timeout and the longest wait to borrow a connection
 * @param idleTimeoutSecs            idle connections older than this are closed (0: never)
 * @param maxConnectionLifetimeSecs  connections older than this are evicted and replaced (0: never)
 * @param pressureThreshold          the pool is under pressure when fewer than this share of connections is free
 * @param tlsCaFile                  PEM file of the CA that signed the server's certificate for {@code rediss://};
 *                                   empty: the JVM's default trust store
 */
public record RedisConfig(URI url, int poolSize, int connectionTimeoutMs, int idleTimeoutSecs,
                          int maxConnectionLifetimeSecs, double pressureThreshold, String tlsCaFile) {

    static RedisConfig read(ConfigReader r) {
        return new RedisConfig(
                r.url("redis.url", "redis://127.0.0.1:6379", List.of("redis", "rediss")),
                r.intIn("redis.pool_size", 20, 1, 1_000),
                r.intIn("redis.connection_timeout_ms", 5_000, 1, 600_000),
                r.intIn("redis.idle_timeout_secs", 300, 0, 86_400),
                r.intIn("redis.max_connection_lifetime_secs", 1_800, 0, 604_800),
                r.doubleBetween("redis.pressure_threshold", 0.2, 0.0, 1.0),
                r.string("redis.tls_ca_file", ""));
    }

    /** True for {@code rediss://}. */
    public boolean tls() {
        return "rediss".equalsIgnoreCase(url.getScheme());
    }

    /** The URL with its password hidden, fit for logs and status pages. */
    public String redactedUrl() {
        return ConfigReader.redactUserInfo(url.toString());
    }

    @Override
    public String toString() {
        return "RedisConfig[url=" + redactedUrl() + ", poolSize=" + poolSize + ", connectionTimeoutMs="
                + connectionTimeoutMs + ", idleTimeoutSecs=" + idleTimeoutSecs + ", maxConnectionLifetimeSecs="
                + maxConnectionLifetimeSecs + ", pressureThreshold=" + pressureThreshold + ", tlsCaFile=" + tlsCaFile + "]";
    }
}
