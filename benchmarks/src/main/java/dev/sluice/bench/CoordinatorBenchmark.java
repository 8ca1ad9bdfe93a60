package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.TopicReader;
import dev.sluice.testkit.NodeProcess;
import io.micrometer.core.instrument.Counter;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.args.ClientPauseMode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * The coordinator's ingest rate and alert latency, against a real Kafka broker (the testkit's single-node KRaft
 * broker, in this JVM) and, for latency, a real worker process with a real fault.
 *
 * <ul>
 *   <li><b>Ingest</b>: a coordinator (in this JVM, default settings) is ready on an empty events topic; then
 *       {@code events} heartbeats from 1,000 node ids, encoded beforehand, are produced as fast as one producer
 *       sends them; the rate is {@code events} over the time from the first send until the coordinator's
 *       {@code sluice.coordinator.events.consumed} counter reaches {@code events}. Median of {@code runs} runs after
 *       one warm-up run, each on a new topic with a new coordinator.</li>
 *   <li><b>Alert latency</b>: from the moment a fault is injected to the alert's appearance as firing in
 *       {@code GET /api/alerts} (polled every 10 ms), minus the rule's for-duration. The coordinator evaluates
 *       every second (the default); the worker heartbeats every 5 s (the default). Pool usage: a worker (pool of 2,
 *       two job slots on a 200 ms Hub) has its Redis writes paused with {@code CLIENT PAUSE WRITE}, which keeps both
 *       pooled connections borrowed; for-duration 2 s. Node down: the worker is SIGKILLed at a random point of its
 *       heartbeat cycle; the rule waits 3 missed heartbeats (15 s of silence after the node's last event),
 *       for-duration 0. Reported twice: from the timestamp of the node's last event before the kill (the worker's
 *       clock, read back from the events topic) plus those 15 s, and raw from the kill.</li>
 * </ul>
 *
 * <p>Usage: {@code java -Xmx1g -cp sluice-benchmarks.jar dev.sluice.bench.CoordinatorBenchmark <redis-url> [events]
 * [runs] [repetitions]}; run it through {@code benchmarks/run-coordinator.sh}, never as a unit test.
 */
public final class CoordinatorBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final int NODES = 1_000;
    private static final int POOL_FOR_SECS = 2;
    private static final int MISSED_HEARTBEATS = 3;
    private static final int HEARTBEAT_SECS = 5;
    private static final String WORKER = "bench-worker";

    private CoordinatorBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String redisUrl = args.length > 0 ? args[0] : "redis://127.0.0.1:6379";
        int events = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int repetitions = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        try (KafkaBroker broker = KafkaBroker.builder().build().start()) {
            ingest(broker, events, runs);
            latency(broker, redisUrl, repetitions);
        }
        System.exit(0);
    }

    // ---------------------------------------------------------------------------------------------------- ingest

    private static void ingest(KafkaBroker broker, int events, int runs) throws Exception {
        System.out.printf(Locale.ROOT, "%n## Ingest: %,d heartbeats from %,d node ids, median of %d runs after a warm-up run%n%n", events,
                NODES, runs);
        System.out.println("| run | produced (events/s) | ingested by the coordinator (events/s) | time to ingest all (s) |");
        System.out.println("|---|---|---|---|");
        List<Double> rates = new ArrayList<>();
        // Run 0 warms the JIT up and is not counted.
        for (int run = 0; run <= runs; run++) {
            String topic = "bench.ingest." + run;
            try (Coordinator coordinator = new Coordinator(ConfigLoader.parse(toml(broker, topic, topic + ".alerts",
                    ""), Map.of()), Clock.systemUTC()).start()) {
                awaitUntil(Duration.ofSeconds(60), coordinator::ready, "the coordinator is ready");
                List<ProducerRecord<String, byte[]>> records = heartbeats(topic, events);
                try (KafkaProducer<String, byte[]> producer = producer(broker)) {
                    long start = System.nanoTime();
                    for (ProducerRecord<String, byte[]> r : records) {
                        producer.send(r);
                    }
                    producer.flush();
                    long produced = System.nanoTime();
                    awaitUntil(Duration.ofMinutes(5), () -> consumed(coordinator) >= events,
                            "the coordinator consumed " + events + " heartbeats");
                    long ingested = System.nanoTime();
                    double secs = (ingested - start) / 1e9;
                    double rate = events / secs;
                    if (run > 0) {
                        rates.add(rate);
                    }
                    System.out.printf(Locale.ROOT, "| %s | %,.0f | %,.0f | %.2f |%n", run == 0 ? "warm-up" : run,
                            events / ((produced - start) / 1e9), rate, secs);
                }
            }
        }
        System.out.printf(Locale.ROOT, "%nIngest rate, median of %d runs: **%,.0f events/s** (runs: %s)%n", runs,
                median(rates), String.join(", ", rates.stream().map(r -> String.format(Locale.ROOT, "%,.0f", r)).toList()));
    }

    private static List<ProducerRecord<String, byte[]>> heartbeats(String topic, int events) {
        List<ProducerRecord<String, byte[]>> records = new ArrayList<>(events);
        long now = System.currentTimeMillis();
        for (int i = 0; i < events; i++) {
            String node = "node-" + (i % NODES);
            long seq = i / NODES + 1;
            EventPayload.Counters counters = new EventPayload.Counters(seq * 50, Map.of("hub-5xx", seq), 0, seq * 50,
                    0, 0, seq, seq * 120, 0, 0, 0);
            EventPayload.Heartbeat heartbeat = new EventPayload.Heartbeat(5_000, counters,
                    new EventPayload.PoolSample(20, 3, 5, 0, 0.2, 0.85), Map.of("hub", "CLOSED"), "ok",
                    new EventPayload.QueueSample(10_000, 250, 3, 1, 1_500));
            Event event = new Event(EventCodec.VERSION, node, now, seq, heartbeat);
            records.add(new ProducerRecord<>(topic, node, EventCodec.encode(event)));
        }
        return records;
    }

    private static KafkaProducer<String, byte[]> producer(KafkaBroker broker) {
        return new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
    }

    private static double consumed(Coordinator coordinator) {
        Counter counter = coordinator.meters().find("sluice.coordinator.events.consumed").tag("type", "heartbeat")
                .counter();
        return counter == null ? 0 : counter.count();
    }

    // --------------------------------------------------------------------------------------------------- latency

    private static void latency(KafkaBroker broker, String redisUrl, int repetitions) throws Exception {
        String topic = "bench.latency.events";
        URI redis = URI.create(redisUrl);
        try (HubSimulator hub = HubSimulator.builder().latencyMs(200).build().start();
             Coordinator coordinator = new Coordinator(ConfigLoader.parse(toml(broker, topic, "bench.latency.alerts",
                     "pool_usage_for_secs = " + POOL_FOR_SECS + "\nnode_down_missed_heartbeats = " + MISSED_HEARTBEATS
                             + "\nnode_down_for_secs = 0\n"), Map.of()), Clock.systemUTC()).start();
             Jedis jedis = new Jedis(new HostAndPort(redis.getHost(), redis.getPort()),
                     DefaultJedisClientConfig.builder().resp2().build())) {
            awaitUntil(Duration.ofSeconds(60), coordinator::ready, "the coordinator is ready");
            URI api = coordinator.uri();
            jedis.flushAll();
            Pipeline p = jedis.pipelined();
            for (int i = 0; i < 10_000; i++) {
                p.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "latency-" + i));
            }
            p.sync();

            List<Double> pool = new ArrayList<>();
            NodeProcess worker = startWorker(broker, redisUrl, hub, topic, api);
            try {
                for (int rep = 1; rep <= repetitions; rep++) {
                    // A heartbeat or two of calm between repetitions, at a random point of the heartbeat cycle.
                    Thread.sleep(HEARTBEAT_SECS * 1000L + ThreadLocalRandom.current().nextLong(HEARTBEAT_SECS * 1000L));
                    long injected = System.nanoTime();
                    jedis.clientPause((POOL_FOR_SECS + 30) * 1000L, ClientPauseMode.WRITE);
                    try {
                        awaitUntil(Duration.ofSeconds(POOL_FOR_SECS + 25),
                                () -> firing(api, "SluicePoolUsageHigh", WORKER), "the pool alert fires");
                        pool.add((System.nanoTime() - injected) / 1e9 - POOL_FOR_SECS);
                    } finally {
                        jedis.clientUnpause();
                    }
                    awaitUntil(Duration.ofSeconds(30), () -> !firing(api, "SluicePoolUsageHigh", WORKER),
                            "the pool alert resolves");
                }

                List<Double> down = new ArrayList<>();
                List<Double> downRaw = new ArrayList<>();
                for (int rep = 1; rep <= repetitions; rep++) {
                    Thread.sleep(ThreadLocalRandom.current().nextLong(HEARTBEAT_SECS * 1000L));
                    long injected = System.nanoTime();
                    long killedAt = System.currentTimeMillis();
                    worker.kill();
                    awaitUntil(Duration.ofSeconds(60), () -> firing(api, "SluiceNodeDown", WORKER),
                            "the node-down alert fires");
                    long seenAt = System.currentTimeMillis();
                    downRaw.add((System.nanoTime() - injected) / 1e9);
                    long lastEvent = lastEventMillis(broker, topic, WORKER, killedAt);
                    down.add((seenAt - lastEvent) / 1e3 - MISSED_HEARTBEATS * HEARTBEAT_SECS);
                    worker.close();
                    worker = startWorker(broker, redisUrl, hub, topic, api);
                    awaitUntil(Duration.ofSeconds(30), () -> !firing(api, "SluiceNodeDown", WORKER),
                            "the node-down alert resolves");
                }
                System.out.printf(Locale.ROOT, "%n## Alert latency, %d repetitions each%n%n", repetitions);
                System.out.println("| alert | fault | subtracted | median (s) | max (s) | all (s) |");
                System.out.println("|---|---|---|---|---|---|");
                row("SluicePoolUsageHigh", "CLIENT PAUSE WRITE on the worker's Redis (pool 2 of 2 borrowed)",
                        "for-duration " + POOL_FOR_SECS + " s", pool);
                row("SluiceNodeDown", "SIGKILL of the worker process; measured from its last event's timestamp",
                        MISSED_HEARTBEATS + " missed heartbeats x " + HEARTBEAT_SECS + " s (for-duration 0)", down);
                row("SluiceNodeDown", "SIGKILL of the worker process; measured from the kill", "nothing", downRaw);
            } finally {
                worker.close();
            }
        }
    }

    private static NodeProcess startWorker(KafkaBroker broker, String redisUrl, HubSimulator hub, String topic, URI api) {
        int clusterPort = freePort();
        NodeProcess worker = NodeProcess.forMainClass("dev.sluice.worker.Main").args("worker").name(WORKER)
                .maxHeap("256m")
                .env("SLUICE_NODE_ID", WORKER)
                .env("SLUICE_NODE_CONCURRENCY", "2")
                .env("SLUICE_REDIS_URL", redisUrl)
                .env("SLUICE_REDIS_POOL_SIZE", "2")
                .env("SLUICE_REDIS_CONNECTION_TIMEOUT_MS", "60000")
                .env("SLUICE_HUB_BASE_URL", hub.baseUrl())
                .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "100000")
                .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "100")
                .env("SLUICE_KAFKA_ENABLED", "true")
                .env("SLUICE_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers())
                .env("SLUICE_KAFKA_EVENTS_TOPIC", topic)
                // Its Hazelcast member (where the node has one) alone, on a free port.
                .env("SLUICE_CLUSTER_NAME", "sluice-coordinator-benchmark")
                .env("SLUICE_CLUSTER_BIND_ADDRESS", "127.0.0.1")
                .env("SLUICE_CLUSTER_PORT", Integer.toString(clusterPort))
                .env("SLUICE_CLUSTER_MEMBERS", "127.0.0.1:" + clusterPort)
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", "127.0.0.1")
                .start();
        awaitUntil(Duration.ofSeconds(90), () -> {
            JsonNode node = clusterNode(api, WORKER);
            return node != null && node.path("alive").asBoolean() && node.has("pool");
        }, "the worker is alive at the coordinator");
        return worker;
    }

    /** The timestamp (the node's clock) of the node's last event on the topic sent before {@code beforeMillis}. */
    private static long lastEventMillis(KafkaBroker broker, String topic, String node, long beforeMillis) {
        long last = -1;
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(broker.bootstrapServers(), topic)) {
            if (EventCodec.decode(r.value()) instanceof EventCodec.Decoded.Ok ok && ok.event().nodeId().equals(node)
                    && ok.event().timestampMs() <= beforeMillis) {
                last = Math.max(last, ok.event().timestampMs());
            }
        }
        if (last < 0) {
            throw new IllegalStateException("no event of " + node + " on " + topic + " before " + beforeMillis);
        }
        return last;
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("could not find a free port", e);
        }
    }

    private static void row(String alert, String fault, String subtracted, List<Double> values) {
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %.2f | %.2f | %s |%n", alert, fault, subtracted,
                median(values), values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN),
                String.join(", ", values.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).toList()));
    }

    // ---------------------------------------------------------------------------------------------------- common

    /** A coordinator configuration: defaults but for the topics, a free HTTP port and {@code alerts} keys. */
    private static String toml(KafkaBroker broker, String events, String alerts, String alertsKeys) {
        return """
                [kafka]
                bootstrap_servers = "%s"
                events_topic = "%s"
                alerts_topic = "%s"
                [metrics]
                port = 0
                bind = "127.0.0.1"
                [coordinator]
                group_id = "%s-coordinator"
                [alerts]
                %s
                """.formatted(broker.bootstrapServers(), events, alerts, events, alertsKeys);
    }

    private static boolean firing(URI api, String alertname, String node) {
        for (JsonNode a : get(api, "/api/alerts").path("firing")) {
            if (alertname.equals(a.path("labels").path("alertname").asText())
                    && node.equals(a.path("labels").path("node").asText())) {
                return true;
            }
        }
        return false;
    }

    private static JsonNode clusterNode(URI api, String id) {
        for (JsonNode n : get(api, "/api/cluster").path("nodes")) {
            if (id.equals(n.path("id").asText())) {
                return n;
            }
        }
        return null;
    }

    private static JsonNode get(URI api, String path) {
        try {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(api.resolve(path))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new IllegalStateException("GET " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void awaitUntil(Duration atMost, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + atMost.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + atMost + " waiting until " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
