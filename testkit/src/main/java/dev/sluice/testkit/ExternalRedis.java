package dev.sluice.testkit;

import java.net.URI;
import org.junit.jupiter.api.Assumptions;
import redis.clients.jedis.Jedis;

/** A Redis server the testkit did not start: it can be used and flushed, never stopped. */
final class ExternalRedis implements RedisServer.Backend {

    private final RedisServer.Settings settings;
    private final URI uri;
    private boolean checked;

    ExternalRedis(RedisServer.Settings settings) {
        this.settings = settings;
        this.uri = URI.create(settings.externalUrl());
    }

    @Override
    public void start() {
        if (!checked) {
            RedisServer.awaitPing(this, settings.startupTimeout(), () -> true,
                    () -> "; " + RedisServer.MODE_ENV + " points the tests at this server, so it must be running");
            checked = true;
        }
    }

    @Override
    public void stop() {
        abortUnsupported("stopped");
    }

    @Override
    public void kill() {
        abortUnsupported("killed");
    }

    private void abortUnsupported(String what) {
        Assumptions.abort("this test needs a Redis server it can stop, kill and restart, but " + RedisServer.MODE_ENV
                + " points at the external server " + url() + ", which cannot be " + what
                + "; unset " + RedisServer.MODE_ENV + " (or set it to 'local') to run it");
    }

    @Override
    public boolean isAlive() {
        return true;
    }

    @Override
    public String host() {
        return uri.getHost();
    }

    @Override
    public int port() {
        return uri.getPort();
    }

    @Override
    public String url() {
        return settings.externalUrl();
    }

    @Override
    public Jedis connect(int timeoutMillis) {
        // Jedis takes user, password, database and TLS from the URI and the rest from the config.
        return new Jedis(uri, RedisServer.clientConfig(timeoutMillis).build());
    }

    @Override
    public void close() {
        // Not ours to stop.
    }
}
