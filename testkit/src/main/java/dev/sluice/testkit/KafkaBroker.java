package dev.sluice.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.utils.Time;

/**
 * A real single-node Kafka cluster (one KRaft process that is both broker and controller) running inside the
 * test JVM, built from Kafka's own server classes.
 *
 * <p>{@link #start()} formats a temporary log directory on first use and starts {@link KafkaRaftServer} on two
 * free ports of 127.0.0.1 (PLAINTEXT for clients, CONTROLLER for the quorum). {@link #stop()} shuts it down
 * cleanly and a later {@link #start()} brings it back on the same ports and log directory, topics and records
 * intact. {@link #close()} stops it and deletes the directory. Internal topics are created with one partition
 * and replication factor 1, and consumer groups rebalance without the initial delay, so tests stay fast.
 *
 * <p>All methods are thread-safe.
 */
public final class KafkaBroker implements AutoCloseable {

    private static final int NODE_ID = 1;
    private static final int PORT_ATTEMPTS = 3;
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

    private enum State { NEW, RUNNING, STOPPED, CLOSED }

    private final Map<String, String> overrides;
    private State state = State.NEW;
    private Path dir;
    private int brokerPort;
    private int controllerPort;
    private String clusterId;
    private boolean formatted;
    private KafkaRaftServer server;

    private KafkaBroker(Map<String, String> overrides) {
        this.overrides = Map.copyOf(overrides);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the broker, or starts it again after {@link #stop()} on the same ports and log directory, and
     * returns once it accepts clients. Does nothing if it is running.
     */
    public synchronized KafkaBroker start() {
        requireNotClosed();
        if (state == State.RUNNING) {
            return this;
        }
        if (dir != null) {
            launch();
        } else {
            firstLaunch();
        }
        state = State.RUNNING;
        return this;
    }

    private void firstLaunch() {
        for (int attempt = 1; ; attempt++) {
            dir = ScratchDirs.create("sluice-kafka-");
            brokerPort = LocalPorts.free();
            controllerPort = LocalPorts.free();
            clusterId = Uuid.randomUuid().toString();
            formatted = false;
            try {
                launch();
                return;
            } catch (RuntimeException e) {
                ScratchDirs.delete(dir);
                dir = null;
                if (attempt >= PORT_ATTEMPTS || !causedByPortInUse(e)) {
                    throw e;
                }
            }
        }
    }

    private void launch() {
        Properties properties = serverProperties();
        if (!formatted) {
            format(properties);
            formatted = true;
        }
        KafkaRaftServer starting = new KafkaRaftServer(KafkaConfig.fromProps(properties, false), Time.SYSTEM);
        KafkaExitGuard.acquire();
        try {
            starting.startup();
        } catch (Exception e) {
            shutDown(starting);
            throw new IllegalStateException("the embedded Kafka broker did not start (PLAINTEXT port " + brokerPort
                    + ", CONTROLLER port " + controllerPort + ", log dir " + dir + "): " + e, e);
        }
        server = starting;
    }

    /** Formats the log directory as {@code kafka-storage.sh format -t <cluster id> -c server.properties} would. */
    private void format(Properties properties) {
        Path file = dir.resolve("server.properties");
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            properties.store(writer, "sluice-testkit embedded Kafka broker");
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + file, e);
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8)) {
            // execute() is main() without System.exit: it reports through its return value and exceptions.
            status = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", file.toString()}, out);
        } catch (Exception e) {
            throw new IllegalStateException("kafka-storage format of " + dir + " failed: " + e + "; it printed: "
                    + output.toString(StandardCharsets.UTF_8), e);
        }
        if (status != 0) {
            throw new IllegalStateException("kafka-storage format of " + dir + " exited with " + status + "; it printed: "
                    + output.toString(StandardCharsets.UTF_8));
        }
    }

    private Properties serverProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", Integer.toString(NODE_ID));
        p.put("controller.quorum.voters", NODE_ID + "@" + LocalPorts.LOOPBACK + ":" + controllerPort);
        p.put("listeners", "PLAINTEXT://" + LocalPorts.LOOPBACK + ":" + brokerPort
                + ",CONTROLLER://" + LocalPorts.LOOPBACK + ":" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://" + LocalPorts.LOOPBACK + ":" + brokerPort);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", dir.resolve("logs").toString());
        // A single replica of everything, internal topics included.
        p.put("num.partitions", "1");
        p.put("default.replication.factor", "1");
        p.put("min.insync.replicas", "1");
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("share.coordinator.state.topic.num.partitions", "1");
        // Fast: no rebalance delay, quick heartbeats, small segments and buffers, few threads (2-core machines).
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("broker.heartbeat.interval.ms", "500");
        p.put("log.segment.bytes", Integer.toString(1024 * 1024));
        p.put("log.cleaner.dedupe.buffer.size", Integer.toString(2 * 1024 * 1024));
        p.put("log.cleaner.threads", "1");
        p.put("log.cleaner.backoff.ms", "1000");
        p.put("num.network.threads", "1");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        p.put("num.recovery.threads.per.data.dir", "1");
        p.put("num.replica.fetchers", "1");
        p.putAll(overrides);
        Properties properties = new Properties();
        properties.putAll(p);
        return properties;
    }

    /** Shuts the broker down cleanly; its ports, log directory and data are kept for {@link #start()}. */
    public synchronized void stop() {
        requireNotClosed();
        if (state == State.RUNNING) {
            KafkaRaftServer running = server;
            server = null;
            state = State.STOPPED;
            shutDown(running);
        }
    }

    /** {@link #stop()} then {@link #start()}. */
    public synchronized void restart() {
        stop();
        start();
    }

    private static void shutDown(KafkaRaftServer running) {
        try {
            running.shutdown();
            running.awaitShutdown();
        } finally {
            KafkaExitGuard.release();
        }
    }

    public synchronized boolean isRunning() {
        return state == State.RUNNING;
    }

    /** {@code 127.0.0.1:<port>}, for {@code bootstrap.servers}; the same across restarts. */
    public synchronized String bootstrapServers() {
        requireStartedOnce();
        return LocalPorts.LOOPBACK + ":" + brokerPort;
    }

    /** {@code bootstrap.servers} as a client configuration map, to add the rest to. */
    public Map<String, Object> clientConfig() {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return config;
    }

    public synchronized String clusterId() {
        requireStartedOnce();
        return clusterId;
    }

    /** The directory holding the formatted log directory and the server.properties it was formatted from. */
    public synchronized Path dataDir() {
        requireStartedOnce();
        return dir;
    }

    /** A new admin client the caller must close. */
    public Admin newAdmin() {
        return Admin.create(clientConfig());
    }

    /** Creates a topic with replication factor 1 and waits until every partition has a leader. */
    public void createTopic(String name, int partitions) {
        createTopic(name, partitions, false);
    }

    /**
     * Creates a topic with replication factor 1 ({@code cleanup.policy=compact} if {@code compacted}) and waits
     * until every partition has a leader.
     *
     * @throws IllegalStateException if the broker is not running, the topic exists, or the broker does not create it
     *         in time
     */
    public void createTopic(String name, int partitions, boolean compacted) {
        Objects.requireNonNull(name, "name");
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be at least 1, but was " + partitions);
        }
        if (!isRunning()) {
            throw new IllegalStateException("cannot create topic " + name + ": " + this + " is not running");
        }
        NewTopic topic = new NewTopic(name, partitions, (short) 1);
        if (compacted) {
            topic.configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
        }
        try (Admin admin = newAdmin()) {
            await(admin.createTopics(List.of(topic)).all(), "create topic " + name);
            long deadline = System.nanoTime() + ADMIN_TIMEOUT.toNanos();
            while (!hasLeaders(admin, name, partitions)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("topic " + name + " was created but not all of its " + partitions
                            + " partitions had a leader within " + ADMIN_TIMEOUT);
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topic " + name, e);
        }
    }

    private static boolean hasLeaders(Admin admin, String name, int partitions) throws InterruptedException {
        try {
            TopicDescription description = admin.describeTopics(List.of(name)).allTopicNames()
                    .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(name);
            return description.partitions().size() == partitions
                    && description.partitions().stream().map(TopicPartitionInfo::leader).allMatch(Objects::nonNull);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return false;
            }
            throw new IllegalStateException("could not describe topic " + name + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("describing topic " + name + " took longer than " + ADMIN_TIMEOUT, e);
        }
    }

    private static void await(KafkaFuture<Void> future, String what) throws InterruptedException {
        try {
            future.get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("could not " + what + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("could not " + what + " within " + ADMIN_TIMEOUT, e);
        }
    }

    /** Stops the broker and deletes its log directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        try {
            if (state == State.RUNNING) {
                KafkaRaftServer running = server;
                server = null;
                shutDown(running);
            }
        } finally {
            state = State.CLOSED;
            ScratchDirs.delete(dir);
        }
    }

    @Override
    public synchronized String toString() {
        return "KafkaBroker[" + state.name().toLowerCase(Locale.ROOT)
                + (dir == null ? "" : ", " + LocalPorts.LOOPBACK + ":" + brokerPort + ", " + dir) + "]";
    }

    private void requireNotClosed() {
        if (state == State.CLOSED) {
            throw new IllegalStateException("this KafkaBroker is closed");
        }
    }

    private void requireStartedOnce() {
        requireNotClosed();
        if (state == State.NEW) {
            throw new IllegalStateException("this KafkaBroker was never started: call start() first");
        }
    }

    private static boolean causedByPortInUse(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException
                    || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
                return true;
            }
        }
        return false;
    }

    /** Builds a {@link KafkaBroker}. */
    public static final class Builder {
        private final Map<String, String> overrides = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * Sets a broker property, overriding the testkit's choice (for example {@code auto.create.topics.enable}).
         * Listeners, ports, node id and log directories are the testkit's to choose; do not override them.
         */
        public Builder property(String key, String value) {
            overrides.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** A new, not yet started broker. */
        public KafkaBroker build() {
            return new KafkaBroker(overrides);
        }
    }
}
