package dev.sluice.worker.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.AdvancedNetworkConfig;
import com.hazelcast.config.ClassFilter;
import com.hazelcast.config.Config;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.config.SplitBrainProtectionConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.instance.ProtocolType;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionOn;
import dev.sluice.common.config.ClusterConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * This node's embedded Hazelcast member (community edition), which holds the fleet-wide limits.
 *
 * <p>Built from {@code [cluster]}: the cluster name; discovery by TCP member list ({@code host[:port]}, no port
 * ranges), multicast, or Hazelcast's own Kubernetes discovery of {@code kubernetes_service}; {@code bind_address}
 * as the only interface the member binds and the address it advertises, on {@code port} (no auto-increment, so
 * member lists stay exact). Heartbeats go every second and a member silent for {@code member_timeout_secs} is
 * removed; a member whose process died is usually removed sooner, as soon as its connections are refused.
 *
 * <h2>Closed by default</h2>
 * <ul>
 *   <li>The member uses Hazelcast's advanced network configuration with a single endpoint, the member protocol on
 *       {@code port}: no client endpoint (a Hazelcast client that knows the cluster name cannot connect), no REST,
 *       no memcache.</li>
 *   <li>Java serialization is limited to an allow-list ({@link #restrictJavaSerialization}): nothing Sluice keeps
 *       in the cluster is Java-serialized, but exceptions travel that way between members.</li>
 *   <li>Fleet control messages (a graceful leave here; the limiter's pause and wake-ups) go through
 *       {@link ControlTopic}s and carry an HMAC under {@code cluster.secret} ({@link ControlMessages}).</li>
 * </ul>
 * The community edition has no member authentication and no TLS: anyone who reaches this port can still join the
 * cluster as a member and read or change the limiter's maps, so bind it to a private interface.
 *
 * <p>The member carries its node id as the attribute {@value #NODE_ID_ATTRIBUTE}, so when a member is gone
 * {@link #onMemberGone} listeners learn which node's jobs to take over. A member that shuts down gracefully
 * announces it first, so the others stop counting it for the majority ({@link MajorityOfLastKnown}); one that
 * vanishes keeps counting.
 */
public final class ClusterMember implements AutoCloseable, MeterBinder {
    private static final Logger log = LoggerFactory.getLogger(ClusterMember.class);

    /** The member attribute holding the Sluice node id. */
    public static final String NODE_ID_ATTRIBUTE = "sluice.node";
    /** The split-brain protection every fleet-limit structure is guarded by. */
    public static final String MAJORITY = "sluice-majority";
    static final String LEAVING_TOPIC = "sluice-cluster-leaving";
    private static final Duration SAFETY_SAMPLE_EVERY = Duration.ofSeconds(2);

    private final HazelcastInstance hazelcast;
    private final String nodeId;
    private final MajorityOfLastKnown majority;
    private final List<Consumer<String>> goneListeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService sampler;
    private final UUID membershipRegistration;
    private final ControlMessages controls;
    private final Map<String, ControlTopic> controlTopics = new ConcurrentHashMap<>();
    private final ControlTopic leaving;
    private final UUID leavingRegistration;
    private volatile boolean partitionsSafe;
    private final java.util.Set<UUID> announced = ConcurrentHashMap.newKeySet();
    private final java.util.Set<String> vanished = ConcurrentHashMap.newKeySet();
    private final List<Runnable> rejoinListeners = new CopyOnWriteArrayList<>();

    private ClusterMember(HazelcastInstance hazelcast, ControlMessages controls) {
        this.hazelcast = hazelcast;
        this.controls = Objects.requireNonNull(controls, "controls");
        Member local = hazelcast.getCluster().getLocalMember();
        this.nodeId = Objects.requireNonNullElse(local.getAttribute(NODE_ID_ATTRIBUTE), local.getUuid().toString());
        SplitBrainProtectionConfig protection = hazelcast.getConfig().getSplitBrainProtectionConfig(MAJORITY);
        if (!(protection.getFunctionImplementation() instanceof MajorityOfLastKnown function)) {
            throw new IllegalStateException("Hazelcast member " + hazelcast.getName() + " has no split-brain protection '"
                    + MAJORITY + "'; build its Config with ClusterMember.addMajorityProtection");
        }
        this.majority = function;
        this.membershipRegistration = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                String joined = nodeIdOf(event.getMember());
                log.info("cluster member joined: node {} ({} members)", joined, event.getMembers().size());
                if (vanished.remove(joined)) {
                    log.info("node {} had vanished without notice and is back (a healed split, or a restart after a "
                            + "crash)", joined);
                }
                // A join moves partitions, and a member that comes back from a split brings a copy of the cluster's
                // data that one side's replaced: either way the listeners hear of it.
                rejoined();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                String gone = nodeIdOf(event.getMember());
                log.info("cluster member gone: node {} ({} members left)", gone, event.getMembers().size());
                if (!announced.remove(event.getMember().getUuid())) {
                    vanished.add(gone);
                }
                for (Consumer<String> listener : goneListeners) {
                    try {
                        listener.accept(gone);
                    } catch (RuntimeException e) {
                        log.warn("a listener for the departure of node {} failed", gone, e);
                    }
                }
            }
        });
        this.leaving = controlTopic(LEAVING_TOPIC);
        this.leavingRegistration = leaving.subscribe(member -> {
            UUID uuid = UUID.fromString(member);
            announced.add(uuid);
            majority.leaving(uuid);
        });
        hazelcast.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED) {
                log.info("this member merged into another cluster after a split");
                rejoined();
            }
        });
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-cluster-sampler")
                .daemon().unstarted(r));
        sampler.scheduleWithFixedDelay(this::sampleSafety, 0, SAFETY_SAMPLE_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Starts a member from {@code [cluster]} and waits (up to {@code member_timeout_secs}) until it may use the
     * protected structures.
     *
     * @param contributions adds what other packages keep in the cluster (map configs, serializers) to the
     *                      member's Hazelcast {@link Config}; it may also override properties
     */
    public static ClusterMember start(ClusterConfig cluster, String nodeId, Consumer<Config> contributions) {
        return start(cluster, nodeId, contributions, Clock.systemUTC());
    }

    /** As {@link #start(ClusterConfig, String, Consumer)}, with the control messages' times from {@code clock}. */
    public static ClusterMember start(ClusterConfig cluster, String nodeId, Consumer<Config> contributions,
                                      Clock clock) {
        Config config = hazelcastConfig(cluster, nodeId);
        contributions.accept(config);
        ControlMessages controls = ControlMessages.of(config.getClusterName(), cluster.secret(), clock);
        HazelcastInstance instance = Hazelcast.newHazelcastInstance(config);
        try {
            ClusterMember member = attach(instance, controls);
            member.awaitMajority(Duration.ofSeconds(Math.max(5, cluster.memberTimeoutSecs())));
            return member;
        } catch (RuntimeException e) {
            instance.getLifecycleService().terminate();
            throw e;
        }
    }

    /**
     * Wraps a running member whose {@link Config} went through {@link #addMajorityProtection} (the testkit's
     * members, for example), with control messages that are not authenticated. Closing the result shuts the member
     * down.
     */
    public static ClusterMember attach(HazelcastInstance instance) {
        return attach(instance, ControlMessages.of(instance.getConfig().getClusterName(), "", Clock.systemUTC()));
    }

    /** Like {@link #attach(HazelcastInstance)}, with control messages sealed and checked by {@code controls}. */
    public static ClusterMember attach(HazelcastInstance instance, ControlMessages controls) {
        return new ClusterMember(instance, controls);
    }

    /** The Hazelcast configuration of a member for {@code [cluster]} and this node. */
    public static Config hazelcastConfig(ClusterConfig cluster, String nodeId) {
        Config config = new Config();
        config.setClusterName(cluster.name());
        config.setInstanceName("sluice-" + nodeId);
        config.getMemberAttributeConfig().setAttribute(NODE_ID_ATTRIBUTE, nodeId);
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        // The node drains and then leaves on its own shutdown hook; Hazelcast's would leave first.
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(cluster.memberTimeoutSecs()));
        // The fleet limiter relies on changes waiting this long for unreachable backups (longer than its own
        // 2 s store timeout); stated here so that nobody lowers it unknowingly.
        config.setProperty("hazelcast.operation.backup.timeout.millis", "5000");
        // Members that started apart (or were split) look for each other soon, not after the default 5 minutes.
        config.setProperty("hazelcast.merge.first.run.delay.seconds", "10");
        config.setProperty("hazelcast.merge.next.run.delay.seconds", "10");

        // One endpoint, the member protocol: no client, REST or memcache endpoint exists to connect to.
        ServerSocketEndpointConfig endpoint = new ServerSocketEndpointConfig();
        endpoint.setProtocolType(ProtocolType.MEMBER);
        endpoint.setPort(cluster.port()).setPortAutoIncrement(false);
        String bind = cluster.bindAddress();
        if (bind.equals("0.0.0.0")) {
            config.setProperty("hazelcast.socket.bind.any", "true");
        } else {
            String ip = resolve(bind);
            config.setProperty("hazelcast.socket.bind.any", "false");
            endpoint.getInterfaces().setEnabled(true).addInterface(ip);
            endpoint.setPublicAddress(ip + ":" + cluster.port());
        }
        AdvancedNetworkConfig network = config.getAdvancedNetworkConfig().setEnabled(true);
        network.setMemberEndpointConfig(endpoint);
        config.getJetConfig().setEnabled(false);
        config.getRestConfig().setEnabled(false);
        JoinConfig join = network.getJoin();
        join.getAutoDetectionConfig().setEnabled(false);
        join.getMulticastConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(false);
        switch (cluster.discovery()) {
            case MULTICAST -> join.getMulticastConfig().setEnabled(true);
            case KUBERNETES -> join.getKubernetesConfig().setEnabled(true)
                    .setProperty("service-name", cluster.kubernetesService());
            case TCP -> join.getTcpIpConfig().setEnabled(true).setMembers(cluster.members());
        }
        restrictJavaSerialization(config);
        addMajorityProtection(config);
        return config;
    }

    /** Adds the {@value #MAJORITY} split-brain protection with its own {@link MajorityOfLastKnown}, if absent. */
    public static Config addMajorityProtection(Config config) {
        if (!config.getSplitBrainProtectionConfigs().containsKey(MAJORITY)) {
            config.addSplitBrainProtectionConfig(new SplitBrainProtectionConfig(MAJORITY, true, 2)
                    .setProtectOn(SplitBrainProtectionOn.READ_WRITE)
                    .setFunctionImplementation(new MajorityOfLastKnown()));
        }
        return config;
    }

    /**
     * Limits Java deserialization on the member to an allow-list, unless {@code config} already has a filter. Sluice
     * keeps nothing Java-serialized in the cluster (its maps hold {@code byte[]}, topics carry {@code byte[]}, the
     * permit processors are {@code IdentifiedDataSerializable} and Bucket4j's types have their own serializers), but
     * a failure inside another member travels back as a Java-serialized exception with its stack trace and causes.
     * So: Hazelcast's own types, {@code java.lang} (exceptions, stack trace elements), the few {@code java.util} and
     * {@code java.io} types exceptions are made of, and Bucket4j's types. Everything else (Sluice's own classes
     * included: none crosses the wire that way) and Hazelcast's shaded third-party code is refused: a gadget
     * published on a topic or put in a map fails to deserialize instead of running.
     */
    public static Config restrictJavaSerialization(Config config) {
        if (config.getSerializationConfig().getJavaSerializationFilterConfig() == null) {
            ClassFilter allowed = new ClassFilter()
                    .addPrefixes("com.hazelcast.", "io.github.bucket4j.")
                    .addPackages("java.lang")
                    .addClasses("[Ljava.lang.StackTraceElement;", "[Ljava.lang.Throwable;",
                            "java.util.ArrayList", "java.util.Collections$EmptyList",
                            "java.util.Collections$UnmodifiableCollection", "java.util.Collections$UnmodifiableList",
                            "java.util.Collections$UnmodifiableRandomAccessList", "java.util.UUID",
                            "java.util.concurrent.CancellationException", "java.util.concurrent.CompletionException",
                            "java.util.concurrent.ExecutionException", "java.util.concurrent.RejectedExecutionException",
                            "java.util.concurrent.TimeoutException", "java.io.IOException", "java.io.EOFException",
                            "java.io.UncheckedIOException");
            ClassFilter refused = new ClassFilter().addPrefixes("com.hazelcast.shaded.");
            config.getSerializationConfig().setJavaSerializationFilterConfig(new JavaSerializationFilterConfig()
                    .setDefaultsDisabled(true)
                    .setWhitelist(allowed)
                    .setBlacklist(refused));
        }
        return config;
    }

    private static String resolve(String host) {
        try {
            return InetAddress.getByName(host).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cluster.bind_address must be an address of this host, but '" + host
                    + "' does not resolve", e);
        }
    }

    /** The node id a member carries, or its UUID when it carries none. */
    public static String nodeIdOf(Member member) {
        return Objects.requireNonNullElse(member.getAttribute(NODE_ID_ATTRIBUTE), member.getUuid().toString());
    }

    /** The member's view of the cluster ({@code sluice_cluster_*}) and its control messages' meters. */
    @Override
    public void bindTo(MeterRegistry meters) {
        controlMessages().bindTo(meters);
        Gauge.builder("sluice.cluster.members", this, ClusterMember::memberCount)
                .description("Cluster members this node sees, itself included").register(meters);
        Gauge.builder("sluice.cluster.safe", this, c -> c.partitionsSafe() ? 1 : 0)
                .description("1 when every partition's backups are in sync").register(meters);
        Gauge.builder("sluice.cluster.majority", this, c -> c.hasMajority() ? 1 : 0)
                .description("1 while this side holds a majority of the last known fleet").register(meters);
    }

    /**
     * The control topic {@code name} of this member: one per name, so that this sender numbers its messages on it in
     * order. Its messages are sealed and checked by {@link #controlMessages()}.
     */
    public ControlTopic controlTopic(String name) {
        return controlTopics.computeIfAbsent(name, n -> controls.topic(hazelcast, n));
    }

    /** What seals and checks this member's control messages, with the count of those it dropped. */
    public ControlMessages controlMessages() {
        return controls;
    }

    /**
     * Calls {@code listener} when a member joins (a new node, or one coming back from a split: a healed split looks
     * like that from the larger side) and when this member merged into another cluster. Partitions move then, and
     * after a split one side's copy of the cluster's data replaced the other's.
     */
    public void onRejoin(Runnable listener) {
        rejoinListeners.add(listener);
    }

    private void rejoined() {
        for (Runnable listener : rejoinListeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.warn("a rejoin listener failed", e);
            }
        }
    }

    /** Calls {@code listener} with the node id of every member that leaves or is removed (on Hazelcast's event thread). */
    public void onMemberGone(Consumer<String> listener) {
        goneListeners.add(listener);
    }

    /** Waits until this side holds a majority of the last known fleet (Hazelcast evaluates it once a second). */
    public void awaitMajority(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!hasMajority()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("cluster member of node " + nodeId + " did not reach a majority within "
                        + timeout.toSeconds() + " s: " + majority);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the cluster majority", e);
            }
        }
    }

    /** Whether the protected structures are usable here: Hazelcast's verdict of {@link MajorityOfLastKnown}. */
    public boolean hasMajority() {
        try {
            return hazelcast.getSplitBrainProtectionService().getSplitBrainProtection(MAJORITY).hasMinimumSize();
        } catch (RuntimeException e) {
            return false; // not running any more
        }
    }

    /** The fleet size a majority is counted against (at least 1). */
    public int lastKnownSize() {
        return majority.lastKnownSize();
    }

    /** Members this member sees now, itself included; 0 once it stopped. */
    public int memberCount() {
        try {
            return hazelcast.getLifecycleService().isRunning() ? hazelcast.getCluster().getMembers().size() : 0;
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** The node ids of the members this member sees now, itself included, sorted; empty once it stopped. */
    public List<String> memberNodeIds() {
        try {
            if (!hazelcast.getLifecycleService().isRunning()) {
                return List.of();
            }
            return hazelcast.getCluster().getMembers().stream().map(ClusterMember::nodeIdOf).sorted().toList();
        } catch (RuntimeException e) {
            return List.of();
        }
    }

    /** The Hazelcast cluster name. */
    public String clusterName() {
        return hazelcast.getConfig().getClusterName();
    }

    /** Whether every partition's backups were in sync at the last sample (every 2 s). */
    public boolean partitionsSafe() {
        return partitionsSafe;
    }

    private void sampleSafety() {
        try {
            partitionsSafe = hazelcast.getLifecycleService().isRunning() && hazelcast.getPartitionService().isClusterSafe();
        } catch (RuntimeException e) {
            partitionsSafe = false;
        }
    }

    public String nodeId() {
        return nodeId;
    }

    public HazelcastInstance hazelcast() {
        return hazelcast;
    }

    /** Announces the departure, then leaves gracefully (hands its partitions over). */
    @Override
    public void close() {
        sampler.shutdownNow();
        if (!hazelcast.getLifecycleService().isRunning()) {
            return;
        }
        try {
            hazelcast.getCluster().removeMembershipListener(membershipRegistration);
            leaving.unsubscribe(leavingRegistration);
            leaving.publish(hazelcast.getCluster().getLocalMember().getUuid().toString());
        } catch (RuntimeException e) {
            log.debug("could not announce the departure of node {}", nodeId, e);
        }
        hazelcast.getLifecycleService().shutdown();
    }
}
