package dev.sluice.worker.identity;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.pool.RedisConnections;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One live process per node id, judged on the starter's own clock against a real redis-server. */
class NodeRecordTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private static final Duration LEASE = Duration.ofSeconds(2);
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private NodeRecord record(String nodeId) {
        SluiceConfig config = TestConfigs.config(redis.url(), "redis.pool_size", "4");
        RedisConnections connections = new RedisConnections(config.redis(), nodeId);
        closing.add(connections);
        return new NodeRecord(connections, nodeId, LEASE);
    }

    /** Renews {@code record} every third of the lease until the test ends, as a live node does. */
    private void keepRenewing(NodeRecord record) {
        AtomicBoolean running = new AtomicBoolean(true);
        Thread t = Thread.ofVirtual().start(() -> {
            while (running.get()) {
                record.renew();
                try {
                    Thread.sleep(record.renewEvery().toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        closing.add(() -> {
            running.set(false);
            t.interrupt();
            t.join();
        });
    }

    @Test
    void aSecondProcessWithTheIdOfALiveOneRefusesToStart() throws Exception {
        NodeRecord first = record("twin");
        first.claim();
        keepRenewing(first);
        NodeRecord second = record("twin");
        long t0 = System.nanoTime();
        assertThatThrownBy(second::claim).isInstanceOf(NodeRecord.NodeIdInUse.class)
                .hasMessageContaining("node id twin is in use by a live process").hasMessageContaining(first.incarnation());
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(LEASE.plusSeconds(1));
        assertThat(first.lost()).isFalse();
    }

    @Test
    void aRestartAfterACrashWaitsAFullLeaseThenTakesTheIdOver() throws Exception {
        NodeRecord crashed = record("phoenix");
        crashed.claim();
        crashed.renew();
        // The crashed process renews no more.
        NodeRecord restarted = record("phoenix");
        long t0 = System.nanoTime();
        restarted.claim();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(LEASE);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.hget("sluice:node:phoenix", "incarnation")).isEqualTo(restarted.incarnation());
        }
        // Were the old one only paused, it finds out at its next renewal, and stops taking work.
        AtomicBoolean told = new AtomicBoolean();
        crashed.onLost(() -> told.set(true));
        crashed.renew();
        assertThat(crashed.lost()).isTrue();
        assertThat(told).isTrue();
        restarted.renew();
        assertThat(restarted.lost()).isFalse();
    }

    @Test
    void aGracefulStopFreesTheIdAtOnce() throws Exception {
        NodeRecord stopping = record("tidy");
        stopping.claim();
        stopping.release();
        NodeRecord next = record("tidy");
        long t0 = System.nanoTime();
        next.claim();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(LEASE);
    }

    @Test
    void aRecordRedisLostIsWrittenAgainNotTakenForATakeOver() throws Exception {
        NodeRecord node = record("amnesia");
        node.claim();
        try (Jedis j = redis.server().newJedis()) {
            j.del("sluice:node:amnesia");
        }
        node.renew();
        assertThat(node.lost()).isFalse();
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.hget("sluice:node:amnesia", "incarnation")).isEqualTo(node.incarnation());
        }
    }

}
