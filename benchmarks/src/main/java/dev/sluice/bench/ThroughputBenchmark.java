package dev.sluice.bench;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.QueueMode;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.worker.WorkerNode;
import dev.sluice.worker.limits.LocalHubLimiter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import redis.clients.jedis.Connection;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisClient;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Jobs per second through one node with a no-op handler, Redis on the same machine, side by side with the design
 * Sluice replaces (one BRPOP loop per job slot sharing a small Jedis pool, 1 s BRPOP timeout).
 *
 * <p>Usage: {@code java -Xmx256m -jar sluice-benchmarks.jar <redis-url> [jobs] [runs]}. Each case enqueues
 * {@code jobs} jobs, starts the consumer and measures until the queue is drained; the median of {@code runs} runs
 * is reported with the most Redis connections seen at once and the pool timeouts. Run it through
 * {@code benchmarks/run-throughput.sh}, never as a unit test.
 */
public final class ThroughputBenchmark {

    private record Result(String name, double jobsPerSecond, int maxConnections, long poolTimeouts) {
    }

    private ThroughputBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : "redis://127.0.0.1:6379";
        int jobs = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        HostAndPort address = new HostAndPort(java.net.URI.create(url).getHost(), java.net.URI.create(url).getPort());
        System.out.printf("# %d jobs per run, median of %d runs, JVM max heap %d MiB%n", jobs, runs,
                Runtime.getRuntime().maxMemory() / (1024 * 1024));
        System.out.println("| case | jobs/s (median) | runs (jobs/s) | max Redis connections | pool timeouts |");
        System.out.println("|---|---|---|---|---|");
        for (String mode : List.of("stream", "list")) {
            for (int concurrency : List.of(50, 250, 500)) {
                report("Sluice " + mode + ", concurrency " + concurrency, runs,
                        () -> sluice(url, address, mode, concurrency, jobs));
            }
        }
        for (int pool : List.of(5, 20)) {
            report("original: 250 BRPOP loops, pool " + pool, runs, () -> original(address, 250, pool, jobs));
        }
    }

    private interface Case {
        Result run() throws Exception;
    }

    private static void report(String name, int runs, Case c) throws Exception {
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            results.add(c.run());
        }
        List<Double> rates = results.stream().map(Result::jobsPerSecond).sorted().toList();
        double median = rates.get(rates.size() / 2);
        int maxConn = results.stream().mapToInt(Result::maxConnections).max().orElse(0);
        long timeouts = results.stream().mapToLong(Result::poolTimeouts).sum();
        System.out.printf(Locale.ROOT, "| %s | %,.0f | %s | %d | %d |%n", name, median,
                String.join(", ", results.stream().map(r -> String.format(Locale.ROOT, "%,.0f", r.jobsPerSecond())).toList()),
                maxConn, timeouts);
    }

    private static Result sluice(String url, HostAndPort address, String mode, int concurrency, int jobs) throws Exception {
        flush(address);
        Map<String, String> env = new HashMap<>();
        env.put("SLUICE_REDIS_URL", url);
        env.put("SLUICE_QUEUE_MODE", mode);
        env.put("SLUICE_NODE_CONCURRENCY", Integer.toString(concurrency));
        env.put("SLUICE_NODE_ID", "bench");
        env.put("SLUICE_REDIS_POOL_SIZE", "5");
        env.put("SLUICE_METRICS_PORT", "0");
        env.put("SLUICE_KAFKA_ENABLED", "false");
        SluiceConfig config = ConfigLoader.parse("", env);
        // The queue alone: a local limiter as wide open as the Hub limits allow, no cluster.
        try (WorkerNode node = new WorkerNode(config, new SimpleMeterRegistry(),
                new LocalHubLimiter(config.hub().maxConcurrentConnections(), config.hub().maxRequestsPerSecond()))) {
            enqueue(node, jobs);
            try (Jedis observer = new Jedis(address, DefaultJedisClientConfig.builder().resp2().build())) {
                long observerId = observer.clientId();
                String key = config.queue().key();
                boolean stream = config.queue().mode() == QueueMode.STREAM;
                long start = System.nanoTime();
                node.start();
                int maxConnections = 0;
                while (true) {
                    maxConnections = Math.max(maxConnections, connections(observer, observerId));
                    long left = stream ? observer.xlen(key) : observer.llen(key)
                            + observer.llen(key + ":processing:bench");
                    if (left == 0) {
                        break;
                    }
                    Thread.sleep(5);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                return new Result("sluice", jobs / seconds, maxConnections, node.redis().borrowTimeouts());
            }
        }
    }

    private static void enqueue(WorkerNode node, int jobs) {
        List<Job> batch = new ArrayList<>(10_000);
        for (int i = 0; i < jobs; i++) {
            batch.add(Job.of("noop", "k" + i));
            if (batch.size() == 10_000) {
                node.queue().enqueue(batch);
                batch.clear();
            }
        }
        if (!batch.isEmpty()) {
            node.queue().enqueue(batch);
        }
    }

    /** The replaced design: every job slot loops on BRPOP (1 s timeout) through a shared pool. */
    private static Result original(HostAndPort address, int slots, int poolSize, int jobs) throws Exception {
        flush(address);
        try (Jedis producer = new Jedis(address, DefaultJedisClientConfig.builder().resp2().build())) {
            Pipeline p = producer.pipelined();
            for (int i = 0; i < jobs; i++) {
                p.lpush("original:queue", "k" + i);
                if (i % 10_000 == 0) {
                    p.sync();
                }
            }
            p.sync();
        }
        GenericObjectPoolConfig<Connection> pc = new GenericObjectPoolConfig<>();
        pc.setMaxTotal(poolSize);
        pc.setMaxIdle(poolSize);
        pc.setMaxWait(Duration.ofMillis(5_000));
        LongAdder timeouts = new LongAdder();
        AtomicLong done = new AtomicLong();
        AtomicInteger maxConnections = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(slots);
        try (RedisClient client = RedisClient.builder().hostAndPort(address)
                .clientConfig(DefaultJedisClientConfig.builder().resp2().timeoutMillis(5_000).build())
                .poolConfig(pc).build();
             Jedis observer = new Jedis(address, DefaultJedisClientConfig.builder().resp2().build())) {
            long observerId = observer.clientId();
            long start = System.nanoTime();
            for (int i = 0; i < slots; i++) {
                Thread.ofPlatform().daemon().start(() -> {
                    try {
                        while (done.get() < jobs) {
                            try {
                                List<String> got = client.brpop(1, "original:queue");
                                if (got != null && !got.isEmpty()) {
                                    done.incrementAndGet();
                                }
                            } catch (RuntimeException e) {
                                if (String.valueOf(e.getMessage()).contains("pool")
                                        || e.getCause() instanceof java.util.NoSuchElementException) {
                                    timeouts.increment();
                                } else {
                                    throw e;
                                }
                            }
                        }
                    } finally {
                        finished.countDown();
                    }
                });
            }
            while (done.get() < jobs) {
                maxConnections.accumulateAndGet(connections(observer, observerId), Math::max);
                Thread.sleep(5);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            finished.await();
            return new Result("original", jobs / seconds, maxConnections.get(), timeouts.sum());
        }
    }

    private static int connections(Jedis observer, long observerId) {
        int n = 0;
        for (String line : observer.clientList().split("\n")) {
            if (!line.isBlank() && !line.contains("id=" + observerId + " ")) {
                n++;
            }
        }
        return n;
    }

    private static void flush(HostAndPort address) {
        try (Jedis j = new Jedis(address, DefaultJedisClientConfig.builder().resp2().build())) {
            j.flushAll();
        }
    }
}
