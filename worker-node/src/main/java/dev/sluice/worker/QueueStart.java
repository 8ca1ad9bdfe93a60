package dev.sluice.worker;

import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.pool.RedisRefusal;
import dev.sluice.worker.queue.JobQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.SetParams;

import java.util.concurrent.TimeUnit;

/**
 * A node's first writes to Redis, and its probe while Redis refuses writes. While Redis refuses the writes a start
 * takes (full under {@code noeviction}, a read-only replica), the node waits and says so instead of exiting.
 */
final class QueueStart {
    private static final Logger log = LoggerFactory.getLogger(QueueStart.class);

    private QueueStart() {
    }

    /**
     * Claims the node id, prepares the queue and takes back the node's own leftovers, waiting (and saying so every
     * 10 s) while Redis refuses writes; fails only on other errors.
     */
    static void claimAndStart(NodeRecord record, JobQueue queue, RedisConnections redis, String nodeId) {
        long lastSaid = 0;
        while (true) {
            try {
                record.claim();
                queue.start();
                queue.recoverOwnLeftovers();
                redis.refusals().accepted();
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while claiming node id " + nodeId, e);
            } catch (JedisDataException e) {
                RedisRefusal refusal = redis.refusals().refused("start", e);
                long now = System.nanoTime();
                if (lastSaid == 0 || now - lastSaid >= TimeUnit.SECONDS.toNanos(10)) {
                    lastSaid = now;
                    log.warn("node {} waits to start: {}; trying again every second", nodeId, refusal.getMessage());
                }
            }
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for Redis to accept writes", e);
            }
        }
    }

    /**
     * While Redis refuses writes, one small write a second tells when it takes them again (the fetcher is paused
     * meanwhile, so no job would).
     */
    static void probeWritesWhileRefused(RedisConnections redis, String nodeId) {
        if (!redis.refusals().refusing()) {
            return;
        }
        try {
            redis.withJedis(j -> j.set("sluice:probe:" + nodeId, "1", SetParams.setParams().px(10_000)));
            redis.refusals().accepted();
        } catch (JedisDataException e) {
            redis.refusals().refused("probe", e);
        } catch (RuntimeException e) {
            log.debug("write probe failed", e);
        }
    }
}
