package dev.sluice.bench;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import dev.sluice.common.config.ClusterConfig;
import dev.sluice.common.config.Discovery;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.fleet.FleetSettings;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.fleet.RateShape;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.grid.hazelcast.Bucket4jHazelcast;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Acquire latency of the fleet limits, measured on a member that owns neither the permit table's entry nor the
 * rate bucket's, in a cluster of three members in this JVM (members talk over loopback TCP, as separate processes
 * on one host would):
 * <ul>
 *   <li>the rate limiter alone: one Bucket4j {@code tryConsume(1)} on the fleet's bucket map;</li>
 *   <li>a full fleet acquire (permit, then token, then the lease renewal) and its release, with limits high enough
 *       that nothing waits, from one thread, then from many threads at once (the node combines their calls).</li>
 * </ul>
 * Usage: {@code java -Xmx512m -cp sluice-benchmarks.jar dev.sluice.bench.LimiterLatencyBenchmark [samples]}; run
 * it through {@code benchmarks/run-fleet.sh}, never as a unit test.
 */
public final class LimiterLatencyBenchmark {

    public static void main(String[] args) throws Exception {
        int samples = args.length > 0 ? Integer.parseInt(args[0]) : 5_000;
        List<Integer> ports = List.of(freePort(), freePort(), freePort());
        List<String> members = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<ClusterMember> cluster = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ClusterConfig config = new ClusterConfig("bench-" + ProcessHandle.current().pid(), Discovery.TCP, members,
                        ports.get(i), "127.0.0.1", "unused", 5, StoreFailurePolicy.FAIL_CLOSED);
                cluster.add(ClusterMember.start(config, "bench-" + (i + 1), FleetHubLimiter::configure));
            }
            for (ClusterMember m : cluster) {
                m.awaitMajority(Duration.ofSeconds(30));
            }
            int maxPerSecond = 1_000_000;
            // The limiter's own keys are fixed; the plain bucket's key is picked so that the observer owns it not either.
            ClusterMember observer = notOwning(cluster, List.of("hub", "hub/" + maxPerSecond + "rps"));
            String bucketKey = java.util.stream.IntStream.range(0, 1_000).mapToObj(i -> "bench-bucket-" + i)
                    .filter(k -> !owns(observer, k)).findFirst().orElseThrow();
            System.out.println("# measured on " + observer.nodeId() + ", which owns none of the keys; "
                    + samples + " samples per case");

            IMap<String, byte[]> rateMap = observer.hazelcast().getMap(FleetHubLimiter.RATE_MAP);
            Bucket bucket = Bucket4jHazelcast.entryProcessorBasedBuilder(rateMap).build().builder()
                    .build(bucketKey, () -> RateShape.of(maxPerSecond).toBucketConfiguration());
            long[] bucketNanos = new long[samples];
            for (int i = 0; i < samples + 500; i++) {
                long t0 = System.nanoTime();
                bucket.tryConsume(1);
                if (i >= 500) {
                    bucketNanos[i - 500] = System.nanoTime() - t0;
                }
            }
            report("rate limiter: Bucket4j tryConsume(1), one thread", bucketNanos);

            try (FleetHubLimiter limiter = new FleetHubLimiter(observer, new FleetSettings(1_000, maxPerSecond,
                    Duration.ofSeconds(6), Duration.ofSeconds(1), StoreFailurePolicy.FAIL_CLOSED, Duration.ofMillis(200),
                    Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(500)))) {
                long[] acquireNanos = new long[samples];
                for (int i = 0; i < samples + 500; i++) {
                    long t0 = System.nanoTime();
                    HubLimiter.Permit permit = limiter.acquire(Duration.ofSeconds(5));
                    long took = System.nanoTime() - t0;
                    if (permit == null) {
                        throw new IllegalStateException("no permit within 5 s at limits nobody reaches");
                    }
                    permit.close();
                    if (i >= 500) {
                        acquireNanos[i - 500] = took;
                    }
                }
                report("fleet acquire (permit + token + renewal), one thread", acquireNanos);

                int threads = 64;
                long[] concurrent = new long[threads * (samples / threads)];
                try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    List<Future<?>> done = new ArrayList<>();
                    long began = System.nanoTime();
                    for (int t = 0; t < threads; t++) {
                        int offset = t * (samples / threads);
                        done.add(pool.submit(() -> {
                            for (int i = 0; i < samples / threads; i++) {
                                long t0 = System.nanoTime();
                                HubLimiter.Permit permit = limiter.acquire(Duration.ofSeconds(10));
                                concurrent[offset + i] = System.nanoTime() - t0;
                                if (permit != null) {
                                    permit.close();
                                }
                            }
                            return null;
                        }));
                    }
                    for (Future<?> f : done) {
                        f.get(5, TimeUnit.MINUTES);
                    }
                    double seconds = (System.nanoTime() - began) / 1e9;
                    report(String.format("fleet acquire, %d threads at once (%.0f acquires/s)", threads,
                            concurrent.length / seconds), concurrent);
                }
            }
        } finally {
            for (ClusterMember m : cluster) {
                m.close();
            }
        }
    }

    private static ClusterMember notOwning(List<ClusterMember> cluster, List<String> keys) throws InterruptedException {
        // Partitions are assigned on first use: wait until every key has an owner.
        HazelcastInstance first = cluster.getFirst().hazelcast();
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (keys.stream().anyMatch(k -> first.getPartitionService().getPartition(k).getOwner() == null)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the partitions of " + keys + " got no owner within 30 s");
            }
            Thread.sleep(50);
        }
        for (ClusterMember candidate : cluster) {
            if (keys.stream().noneMatch(k -> owns(candidate, k))) {
                return candidate;
            }
        }
        throw new IllegalStateException("every member owns one of " + keys + "; rename a key");
    }

    private static boolean owns(ClusterMember member, String key) {
        HazelcastInstance hz = member.hazelcast();
        Member self = hz.getCluster().getLocalMember();
        Member owner = hz.getPartitionService().getPartition(key).getOwner();
        return owner == null || owner.equals(self); // no owner yet: not a safe pick
    }

    private static void report(String name, long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        System.out.printf("| %s | %.2f | %.2f | %.2f |%n", name, sorted[sorted.length / 2] / 1e6,
                sorted[(int) (sorted.length * 0.99)] / 1e6, sorted[sorted.length - 1] / 1e6);
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
