package dev.sluice.worker;

import com.hazelcast.config.Config;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.identity.RecordWatch;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.list.ListJobQueue;
import dev.sluice.worker.queue.stream.StreamJobQueue;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node whose cluster member dies with jobs in flight: a surviving node takes them over as soon as the cluster
 * reports the member gone, long before the visibility timeout (30 s here) or the node's record has stood still for a
 * lease (20 s here), and finishes them.
 */
class ClusterReclaimTest {
    private static final Logger log = LoggerFactory.getLogger(ClusterReclaimTest.class);

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Members in tests join at once instead of waiting for others that might still come. */
    static void joinAtOnce(Config config) {
        FleetHubLimiter.configure(config);
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "0");
    }

    private static long results() {
        try (Jedis j = redis.server().newJedis()) {
            return j.keys("sluice:result:*").size();
        }
    }

    @ParameterizedTest(name = "{0} mode")
    @ValueSource(strings = {"stream", "list"})
    void survivorTakesOverAKilledNodesInFlightJobsWithinFiveSeconds(String mode) throws InterruptedException {
        HubSimulator hub = HubSimulator.builder().latencyMs(5).build().start();
        closing.add(hub);
        String cluster = "reclaim-" + UUID.randomUUID().toString().substring(0, 8);
        int victimPort = freePort();
        int bystanderPort = freePort();
        int survivorPort = freePort();
        String[] common = {"queue.mode", mode, "hub.base_url", hub.baseUrl(), "cluster.name", cluster,
                "queue.visibility_timeout_secs", "30", "node.lease_ms", "2000", "hub.max_requests_per_second", "1000",
                "hub.max_concurrent_connections", "20", "node.drain_timeout_secs", "2"};
        SluiceConfig victimConfig = TestConfigs.config(redis.url(), concat(common, "node.id", "victim",
                "cluster.port", Integer.toString(victimPort), "cluster.members", "127.0.0.1:" + victimPort));
        SluiceConfig bystanderConfig = TestConfigs.config(redis.url(), concat(common, "node.id", "bystander",
                "cluster.port", Integer.toString(bystanderPort),
                "cluster.members", "127.0.0.1:" + victimPort + ",127.0.0.1:" + bystanderPort));
        // The survivor judges the victim dead once its liveness record stood still for a lease (2 s here).
        SluiceConfig survivorConfig = TestConfigs.config(redis.url(), concat(common, "node.id", "survivor",
                "cluster.port", Integer.toString(survivorPort),
                "cluster.members", "127.0.0.1:" + victimPort + ",127.0.0.1:" + bystanderPort + ",127.0.0.1:" + survivorPort));

        // The victim: a cluster member and a consumer holding ten jobs it will never finish.
        ClusterMember victim = ClusterMember.start(victimConfig.cluster(), "victim", ClusterReclaimTest::joinAtOnce);
        closing.add(victim);
        RedisConnections victimRedis = new RedisConnections(victimConfig.redis(), "victim");
        closing.add(victimRedis);
        // Its liveness record, renewed until the kill as a live node's is.
        Duration lease = Duration.ofMillis(victimConfig.node().leaseMs());
        NodeRecord victimRecord = new NodeRecord(victimRedis, "victim", lease);
        victimRecord.claim();
        AtomicBoolean victimLives = new AtomicBoolean(true);
        Thread renewals = Thread.ofVirtual().start(() -> {
            while (victimLives.get()) {
                victimRecord.renew();
                try {
                    Thread.sleep(victimRecord.renewEvery());
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        JobQueue victimQueue = mode.equals("list")
                ? new ListJobQueue(victimConfig.queue(), "victim", victimRedis, Clock.systemUTC(),
                        new RecordWatch(lease, System::nanoTime))
                : new StreamJobQueue(victimConfig.queue(), "victim", victimRedis, Clock.systemUTC());
        victimQueue.start();
        victimQueue.enqueue(WorkerNodeTest.jobs("hub-fetch", 10));
        List<Delivery> inFlight = new ArrayList<>();
        await().atMost(Duration.ofSeconds(5)).until(() -> {
            inFlight.addAll(victimQueue.fetch(10, Duration.ofMillis(50)));
            return inFlight.size() == 10;
        });

        // A third member, so the two left after the kill keep their majority of three.
        ClusterMember bystander = ClusterMember.start(bystanderConfig.cluster(), "bystander", ClusterReclaimTest::joinAtOnce);
        closing.add(bystander);
        // Both are Sluice nodes to the survivor's member vetting (a node registers its member when it starts).
        try (Jedis j = redis.server().newJedis()) {
            for (ClusterMember m : List.of(victim, bystander)) {
                j.set("sluice:member:" + m.hazelcast().getCluster().getLocalMember().getUuid(), m.nodeId());
            }
        }
        ClusterMember survivorMember = ClusterMember.start(survivorConfig.cluster(), "survivor", ClusterReclaimTest::joinAtOnce);
        WorkerNode survivor = new WorkerNode(survivorConfig, new SimpleMeterRegistry(), survivorMember);
        closing.add(survivor);
        survivor.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> survivorMember.memberCount() == 3);
        assertThat(survivor.meters().get("sluice.cluster.members").gauge().value()).isEqualTo(3.0);
        assertThat(survivor.meters().get("sluice.cluster.majority").gauge().value()).isEqualTo(1.0);

        // A survivor that works: past a fresh fleet's wait for its first grant (a lease plus the quiet time).
        await().atMost(Duration.ofSeconds(30)).until(() -> ((FleetHubLimiter) survivor.limiter()).granting());
        long killedAt = System.nanoTime();
        victimLives.set(false);
        renewals.interrupt();
        renewals.join();
        victim.hazelcast().getLifecycleService().terminate(); // as SIGKILL would; its jobs stay in flight in Redis
        victimQueue.close();
        victimRedis.close();

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> TestQueues.stats(redis.url(), mode).pendingByConsumer().getOrDefault("victim", 0L) == 0
                        && !survivor.worker().pendingReclaims().contains("victim"));
        long claimedMs = (System.nanoTime() - killedAt) / 1_000_000;
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> results() == 10);
        long doneMs = (System.nanoTime() - killedAt) / 1_000_000;
        log.info("{} mode: a killed node's 10 in-flight jobs were claimed {} ms after the kill and done after {} ms",
                mode, claimedMs, doneMs);
        assertThat(claimedMs).isLessThan(5_000);
        assertThat(hub.stats().count(200)).as("each job ran once, at the survivor").isEqualTo(10);
        assertThat(survivor.queue().stats().dead()).isZero();
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
