package dev.sluice.testkit;

import com.hazelcast.config.AdvancedNetworkConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.config.TcpIpConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceNotActiveException;
import com.hazelcast.instance.ProtocolType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Embedded Hazelcast members (community edition) in the test JVM, forming one cluster of their own.
 *
 * <p>Each member listens on its own free port of 127.0.0.1 and joins over TCP-IP with explicit
 * {@code 127.0.0.1:port} entries (multicast and auto-detection off, no port ranges). Like a worker node's member, it
 * uses Hazelcast's advanced network configuration with the member endpoint only: clients cannot connect, and the
 * join settings are those of {@link AdvancedNetworkConfig#getJoin()}. The cluster name is
 * unique per instance, so clusters of different tests never merge. Joining does not wait, and a member that
 * stops heart-beating is dropped after {@value #MAX_NO_HEARTBEAT_SECONDS} s, so tests of member loss run in
 * seconds. Phone-home is off, logging goes to SLF4J.
 *
 * <p>Members are numbered from 0 in start order; the numbers stay fixed when members leave.
 * {@link #terminate(int)} ends a member abruptly (as a crash would), {@link #shutdown(int)} gracefully;
 * {@link #startMember()} adds a member to the running cluster and {@link #restart(int)} brings a member back on
 * its port. {@link #close()} terminates all. All methods are thread-safe.
 */
public final class HazelcastMembers implements AutoCloseable {

    static final int HEARTBEAT_INTERVAL_SECONDS = 1;
    static final int MAX_NO_HEARTBEAT_SECONDS = 5;

    private final String clusterName;
    private final int initialMembers;
    private final Map<String, String> properties;
    private final Consumer<Config> customizer;
    private final List<Integer> ports = new ArrayList<>();
    private final List<HazelcastInstance> instances = new ArrayList<>();
    private boolean closed;

    private HazelcastMembers(Builder builder) {
        this.clusterName = builder.clusterName != null ? builder.clusterName
                : "sluice-test-" + UUID.randomUUID().toString().substring(0, 8);
        this.initialMembers = builder.members;
        this.properties = Map.copyOf(builder.properties);
        this.customizer = builder.customizer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Starts the initial members one after the other and returns once they form one cluster. */
    public synchronized HazelcastMembers start() {
        requireOpen();
        if (!instances.isEmpty()) {
            throw new IllegalStateException("members of " + clusterName + " were already started");
        }
        try {
            for (int i = 0; i < initialMembers; i++) {
                startMember();
            }
            awaitClusterSize(initialMembers, Duration.ofSeconds(60));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        return this;
    }

    /** Starts one more member, which joins the running ones, and returns its number. */
    public synchronized int startMember() {
        requireOpen();
        int index = ports.size();
        ports.add(LocalPorts.free());
        instances.add(null);
        launch(index);
        return index;
    }

    /** Starts member {@code index} again, on the port it had, after {@link #terminate(int)} or {@link #shutdown(int)}. */
    public synchronized HazelcastInstance restart(int index) {
        requireOpen();
        if (index < 0 || index >= ports.size()) {
            throw new IndexOutOfBoundsException("no member " + index + " in " + clusterName + "; members are 0.."
                    + (ports.size() - 1));
        }
        HazelcastInstance previous = instances.get(index);
        if (previous != null && previous.getLifecycleService().isRunning()) {
            throw new IllegalStateException("member " + index + " of " + clusterName + " is running");
        }
        return launch(index);
    }

    private HazelcastInstance launch(int index) {
        HazelcastInstance instance = Hazelcast.newHazelcastInstance(config(index));
        instances.set(index, instance);
        return instance;
    }

    private Config config(int index) {
        Config config = new Config();
        config.setClusterName(clusterName);
        config.setInstanceName(clusterName + "-" + index);
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.socket.bind.any", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.max.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.heartbeat.interval.seconds", Integer.toString(HEARTBEAT_INTERVAL_SECONDS));
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(MAX_NO_HEARTBEAT_SECONDS));
        config.setProperty("hazelcast.health.monitoring.level", "OFF");
        properties.forEach(config::setProperty);

        ServerSocketEndpointConfig endpoint = new ServerSocketEndpointConfig();
        endpoint.setProtocolType(ProtocolType.MEMBER);
        endpoint.setPort(ports.get(index)).setPortAutoIncrement(false);
        endpoint.getInterfaces().setEnabled(true).addInterface(LocalPorts.LOOPBACK);
        AdvancedNetworkConfig network = config.getAdvancedNetworkConfig().setEnabled(true);
        network.setMemberEndpointConfig(endpoint);
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        TcpIpConfig tcpIp = join.getTcpIpConfig().setEnabled(true);
        // Only members that can answer: listing ports nobody listens on yet makes the first member wait.
        for (int i = 0; i < instances.size(); i++) {
            HazelcastInstance other = instances.get(i);
            if (i == index || (other != null && other.getLifecycleService().isRunning())) {
                tcpIp.addMember(address(i));
            }
        }
        customizer.accept(config);
        return config;
    }

    /**
     * Member {@code index} in start order. It may no longer be running after {@link #terminate(int)} or
     * {@link #shutdown(int)}.
     */
    public synchronized HazelcastInstance member(int index) {
        checkIndex(index);
        return instances.get(index);
    }

    /** The members that are running, in start order. */
    public synchronized List<HazelcastInstance> runningMembers() {
        return instances.stream().filter(i -> i != null && i.getLifecycleService().isRunning()).toList();
    }

    /** How many members are running. */
    public synchronized int size() {
        return runningMembers().size();
    }

    /** {@code 127.0.0.1:port} of member {@code index}. */
    public synchronized String address(int index) {
        if (index < 0 || index >= ports.size()) {
            throw new IndexOutOfBoundsException("no member " + index + "; members are 0.." + (ports.size() - 1));
        }
        return LocalPorts.LOOPBACK + ":" + ports.get(index);
    }

    public String clusterName() {
        return clusterName;
    }

    /** Ends member {@code index} abruptly, as a crash would: no graceful migration, the others notice it late. */
    public synchronized void terminate(int index) {
        checkIndex(index);
        instances.get(index).getLifecycleService().terminate();
    }

    /** Shuts member {@code index} down gracefully: it hands its partitions over before it leaves. */
    public synchronized void shutdown(int index) {
        checkIndex(index);
        instances.get(index).getLifecycleService().shutdown();
    }

    /**
     * Waits until every running member sees exactly {@code expected} members.
     *
     * @throws IllegalStateException with each member's view if that does not happen within {@code timeout}
     */
    public void awaitClusterSize(int expected, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<HazelcastInstance> running = runningMembers();
            if (running.stream().allMatch(m -> clusterSizeSeenBy(m) == expected)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                StringBuilder views = new StringBuilder();
                for (HazelcastInstance m : running) {
                    views.append(System.lineSeparator()).append("  ").append(m.getName()).append(" sees ")
                            .append(m.getCluster().getMembers());
                }
                throw new IllegalStateException("cluster " + clusterName + " did not reach " + expected + " members within "
                        + timeout + "; running: " + running.size() + views);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for cluster " + clusterName, e);
            }
        }
    }

    private static int clusterSizeSeenBy(HazelcastInstance member) {
        try {
            return member.getCluster().getMembers().size();
        } catch (HazelcastInstanceNotActiveException e) {
            return -1; // it stopped while we looked; the next round leaves it out
        }
    }

    /** Terminates every member. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (HazelcastInstance instance : instances) {
            try {
                if (instance != null) {
                    instance.getLifecycleService().terminate();
                }
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public synchronized String toString() {
        return "HazelcastMembers[" + clusterName + ", " + size() + " of " + instances.size() + " running]";
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= instances.size() || instances.get(index) == null) {
            throw new IndexOutOfBoundsException("no member " + index + " in " + clusterName + "; members are 0.."
                    + (instances.size() - 1));
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("these HazelcastMembers are closed");
        }
    }

    /** Builds {@link HazelcastMembers}. */
    public static final class Builder {
        private int members = 1;
        private String clusterName;
        private final Map<String, String> properties = new LinkedHashMap<>();
        private Consumer<Config> customizer = config -> { };

        private Builder() {
        }

        /** How many members {@link HazelcastMembers#start()} starts; default 1. */
        public Builder members(int members) {
            if (members < 0 || members > 20) {
                throw new IllegalArgumentException("members must be between 0 and 20, but was " + members);
            }
            this.members = members;
            return this;
        }

        /** The cluster name; default {@code sluice-test-<random>}, unique per instance. */
        public Builder clusterName(String clusterName) {
            if (clusterName == null || clusterName.isBlank()) {
                throw new IllegalArgumentException("clusterName must not be blank, but was '" + clusterName + "'");
            }
            this.clusterName = clusterName;
            return this;
        }

        /** A Hazelcast property for every member, overriding the testkit's (for example the heartbeat ones). */
        public Builder property(String key, String value) {
            properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Adjusts each member's configuration (map configs, serializers, ...) after the testkit has set cluster
         * name, network and join; runs once per member started, with that member's {@link Config}.
         */
        public Builder configure(Consumer<Config> customizer) {
            this.customizer = this.customizer.andThen(Objects.requireNonNull(customizer, "customizer"));
            return this;
        }

        /** New, not yet started members. */
        public HazelcastMembers build() {
            return new HazelcastMembers(this);
        }
    }
}
