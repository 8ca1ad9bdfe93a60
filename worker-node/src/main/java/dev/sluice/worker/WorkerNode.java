package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.cluster.ClusterMember;
import dev.sluice.worker.exec.Backoff;
import dev.sluice.worker.exec.Maintenance;
import dev.sluice.worker.exec.Periodic;
import dev.sluice.worker.events.EventPublisher;
import dev.sluice.worker.events.EventSink;
import dev.sluice.worker.events.NodeEvents;
import dev.sluice.worker.exec.Worker;
import dev.sluice.worker.handler.HandlerRegistry;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.identity.MemberVetting;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.hub.BreakerListener;
import dev.sluice.worker.hub.HubClient;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.live.LimitsFollower;
import dev.sluice.control.FleetRecord;
import dev.sluice.worker.limits.fleet.grant.GrantorLease;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.LimiterListener;
import dev.sluice.worker.pool.OwnConnection;
import dev.sluice.worker.pool.PoolMonitor;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.pool.RedisErrors;
import dev.sluice.worker.pool.RedisMeters;
import dev.sluice.worker.pool.RedisRefusals;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.sink.KafkaErrors;
import dev.sluice.worker.sink.ResultSink;
import dev.sluice.worker.sink.ResultSinks;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One worker node, wired from its configuration: Redis connections and their monitor, the queue adapter, the
 * embedded cluster member and the fleet-wide Hub limits, the Hub client behind its breaker, the sink, the job
 * runner and its maintenance. Everything it builds can also be built alone in a test.
 *
 * <p>Wiring between the parts: a member gone from the cluster has its in-flight jobs taken over at once; fetching
 * pauses while the Hub's breaker is open, and while the fleet limiter is degraded under {@code fail-closed} (no
 * Hub call could go out anyway).
 */
public final class WorkerNode implements AutoCloseable {
    /** How long after a member leaves the majority is judged, before its jobs are taken over. */

    private static final Logger log = LoggerFactory.getLogger(WorkerNode.class);
    /** The fetcher's pause while Redis refuses writes. */
    static final String REDIS_REFUSING = "redis-refusing-writes";
    /** The fetcher's pause once another process took this node id over. */
    static final String NODE_ID_TAKEN_OVER = "node-id-taken-over";
    /** Loopback requests that ready the Hub client's send path before the first job (see HubClient#warmUp). */
    private static final int WARM_UP_REQUESTS = 300;

    private final SluiceConfig config;
    private final Clock clock;
    private final MeterRegistry meters;
    private final LoopWatch watch;
    private final ClusterMember cluster;
    private final RedisConnections redis;
    private final PoolMonitor poolMonitor;
    private final NodeRecord record;
    private final MemberVetting vetting;
    private final JobQueue queue;
    private final HubLimiter limiter;
    private final FleetHubLimiter fleet;
    private final HubClient hub;
    private final ResultSink sink;
    private final Worker worker;
    private final Maintenance maintenance;
    /**
     * The node's leases, on their own thread and Redis connection so that a renewal never waits behind the pool or
     * the maintenance thread: its liveness record and, in a fleet, the grantor lease.
     */
    private final OwnConnection leaseConnection;
    private final Periodic leases;
    /** The fleet's grantor lease in Redis, or null without a fleet limiter. */
    private final GrantorLease grantor;
    private final ScheduledExecutorService sampler;
    private final EventSink publisher;
    private final NodeEvents events;
    /** Keeps the fleet limiter on the fleet's live limits in Redis, or null without a fleet limiter. */
    private final LimitsFollower limitsFollower;
    private final FleetRecord limitsRecord;
    private volatile boolean running;

    /** A node of the fleet: starts its cluster member from {@code [cluster]} and keeps the Hub's limits fleet-wide. */
    public WorkerNode(SluiceConfig config, MeterRegistry meters) {
        this(config, meters, Clock.systemUTC());
    }

    /** A node of the fleet whose parts all take their time from {@code clock} ({@code Main} passes the system's). */
    public WorkerNode(SluiceConfig config, MeterRegistry meters, Clock clock) {
        this(config, meters, ClusterMember.start(config.cluster(), config.node().id(), FleetHubLimiter::configure,
                clock), clock);
    }

    /**
     * A node of the fleet on a member already started (with {@link FleetHubLimiter#configure} applied to its
     * configuration). The node owns the member from now on and closes it last.
     */
    public WorkerNode(SluiceConfig config, MeterRegistry meters, ClusterMember cluster) {
        this(config, meters, cluster, Clock.systemUTC());
    }

    private WorkerNode(SluiceConfig config, MeterRegistry meters, ClusterMember cluster, Clock clock) {
        this(config, meters, cluster, FleetWiring.limiter(config, cluster), clock);
    }

    private WorkerNode(SluiceConfig config, MeterRegistry meters, ClusterMember cluster, FleetHubLimiter fleet,
                       Clock clock) {
        this(config, meters, cluster, fleet, fleet, LoopWatch.forNode(), clock);
    }

    /** A node without a cluster: {@code limiter} alone keeps the Hub's limits (a single node, or tests). */
    public WorkerNode(SluiceConfig config, MeterRegistry meters, HubLimiter limiter) {
        this(config, meters, null, null, limiter, LoopWatch.forNode(), Clock.systemUTC());
    }

    /** A node without a cluster whose loops {@code watch} watches (tests pass their own clock and exit). */
    public WorkerNode(SluiceConfig config, MeterRegistry meters, HubLimiter limiter, LoopWatch watch) {
        this(config, meters, null, null, limiter, watch, Clock.systemUTC());
    }

    /**
     * @param cluster the node's cluster member, or null for a node alone
     * @param fleet   the fleet's limiter on that member (also {@code limiter}), or null for a node alone: the member
     *                vetting, the grant lease and the live limits work on it
     * @param clock   the one clock of the node's parts (the queue, the Hub client, maintenance, events)
     */
    private WorkerNode(SluiceConfig config, MeterRegistry meters, ClusterMember cluster, FleetHubLimiter fleet,
                       HubLimiter limiter, LoopWatch watch, Clock clock) {
        this.config = config;
        this.clock = clock;
        this.watch = watch;
        this.meters = meters;
        this.cluster = cluster;
        String nodeId = config.node().id();
        this.redis = new RedisConnections(config.redis(), nodeId, new RedisRefusals(meters));
        this.poolMonitor = new PoolMonitor(redis::sample, config.redis().pressureThreshold());
        Duration lease = Duration.ofMillis(config.node().leaseMs());
        this.leaseConnection = new OwnConnection(redis, "leases");
        this.leases = new Periodic("sluice-leases", watch);
        this.record = new NodeRecord(redis, leaseConnection, nodeId, lease);
        this.vetting = fleet != null ? FleetWiring.vetting(config, cluster, redis, fleet) : null;
        this.grantor = fleet != null ? FleetWiring.grantorLease(config, cluster, leaseConnection, record, fleet) : null;
        this.queue = JobQueues.create(config.queue(), nodeId, redis, clock, lease);
        this.limiter = limiter;
        this.fleet = fleet;
        this.hub = new HubClient(config.hub(), config.breaker(), limiter, clock);
        this.sink = ResultSinks.create(config.sink(), config.kafka(), nodeId, redis, watch);
        Worker.Settings settings = new Worker.Settings(
                config.node().concurrency(),
                Duration.ofMillis(config.queue().blockTimeoutMs()),
                Duration.ofMillis(config.queue().pressureBlockTimeoutMs()),
                Duration.ofSeconds(config.node().drainTimeoutSecs()),
                config.retry().maxAttempts(),
                config.queue().maxDeliveries(),
                JobQueues.reclaimEvery(config.queue(), lease),
                Duration.ofMillis(250));
        this.worker = new Worker(settings, queue, HandlerRegistry.load(WorkerNode.class.getClassLoader()), hub, sink,
                new Backoff(config.retry(), ThreadLocalRandom.current()), poolMonitor::isUnderPressure,
                () -> redis.refusals().refusing(), RedisErrors.TRANSLATOR.or(KafkaErrors.TRANSLATOR), meters, watch);
        this.maintenance = new Maintenance(queue, worker, clock, watch);
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("sluice-pool-monitor")
                .daemon().uncaughtExceptionHandler(watch.uncaughtHandler()).unstarted(r));
        this.publisher = config.kafka().enabled()
                ? new EventPublisher(config.kafka(), nodeId, clock, meters, watch) : EventSink.NONE;
        this.events = new NodeEvents(publisher, worker, redis, hub, poolMonitor, maintenance);
        events.permitsHeldFrom(limiter::permitsHeld);
        // Every node follows the fleet's record: its pause, and its limits when the node has a fleet limiter.
        this.limitsRecord = new FleetRecord(config.cluster().name());
        this.limitsFollower = new LimitsFollower(limitsRecord,
                fleet,
                config.hub().maxRequestsPerSecond(), config.hub().maxConcurrentConnections(), nodeId, publisher::publish, pause -> worker.setPaused(Worker.FLEET_PAUSED, pause.paused()), System::nanoTime);
        wireResilience();
        bindMeters();
    }

    private void wireResilience() {
        hub.addBreakerListener(t -> worker.setPaused("breaker-open", t.to() == BreakerListener.State.OPEN));
        hub.addBreakerListener(t -> events.breakerState("hub", t.from().name(), t.to().name(), t.failureRate(),
                t.failedCalls(), t.bufferedCalls()));
        String policy = config.cluster().onStoreFailure().id();
        limiter.addListener(new LimiterListener() {
            @Override
            public void degraded(String reason) {
                events.limiterState(true, reason, policy);
            }

            @Override
            public void recovered() {
                events.limiterState(false, "the limiter's store answers again under a majority", policy);
            }
        });
        if (cluster != null) {
            cluster.onMemberGone(this::reclaimWhenRecordStandsStill);
        }
        if (limiter.stopsWhileDegraded()) {
            limiter.addListener(new LimiterListener() {
                @Override
                public void degraded(String reason) {
                    worker.setPaused("limiter-degraded", true);
                }

                @Override
                public void recovered() {
                    worker.setPaused("limiter-degraded", false);
                }

                @Override
                public void waiting(boolean waiting, String reason) {
                    worker.setPaused("limiter-waiting", waiting);
                }
            });
        }
    }

    /**
     * Takes a departed node's in-flight jobs over once its liveness record in Redis stood still for a lease: jobs move
     * on suspicion (at least once is the promise), and a node only cut off from Hazelcast keeps renewing its record
     * and keeps its jobs. Its Hub capacity moves by the grantor lease's rules, not here.
     */
    private void reclaimWhenRecordStandsStill(String goneNodeId) {
        Thread.ofVirtual().name("sluice-reclaim-" + goneNodeId).start(() -> {
            try {
                if (record.standsStill(goneNodeId)) {
                    worker.reclaimFrom(goneNodeId);
                } else {
                    log.warn("node {} left this member's view but keeps renewing its record in Redis (a cut between "
                            + "the two, not a crash): its jobs stay with it", goneNodeId);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                log.warn("could not judge whether departed node {} is alive; its jobs are reclaimed after the "
                        + "visibility timeout", goneNodeId, e);
            }
        });
    }

    /** Each part binds its own meters. */
    private void bindMeters() {
        new RedisMeters(redis, poolMonitor).bindTo(meters);
        hub.bindTo(meters);
        if (cluster != null) {
            cluster.bindTo(meters);
        }
        limiter.bindTo(meters);
        limitsFollower.bindTo(meters);
        maintenance.bindTo(meters);
    }

    public void start() {
        registerMember();
        if (limitsFollower != null) {
            // Before the first job: the node grants by the fleet's limits from its first request on. The lease thread
            // then reads them five times a second, so a change is in force within 2 s.
            try {
                limitsFollower.step(leaseConnection);
            } catch (RuntimeException e) {
                log.warn("could not read the fleet's limits record yet ({}); reading it again every 200 ms", e.toString());
            }
            leases.every(Duration.ofMillis(200), "fleet-limits", () -> {
                try {
                    limitsFollower.step(leaseConnection);
                } catch (RuntimeException e) {
                    log.debug("reading the fleet's limits record failed", e); // the leases on the same Redis say so
                }
            });
        }
        QueueStart.claimAndStart(record, queue, redis, config.node().id());
        poolMonitor.addListener((pressure, sample) -> worker.setPaused("pool-pressure", pressure));
        redis.refusals().addListener(refusing -> worker.setPaused(REDIS_REFUSING, refusing));
        if (redis.refusals().refusing()) {
            worker.setPaused(REDIS_REFUSING, true);
        }
        sampler.scheduleAtFixedRate(poolMonitor::sample, 0, 250, TimeUnit.MILLISECONDS);
        // Redis calls that may block (a paused or slow Redis) never run on the sampler, which must keep sampling the
        // pool and sending heartbeats whatever Redis does. The leases run on their own thread and connection; the rest
        // on the maintenance thread, which holds one pooled connection at a time. With the fetcher's connection and
        // the writers' lane (completer and sink writer) that keeps the node at 4.
        maintenance.schedule(Duration.ofSeconds(1), "write-probe",
                () -> QueueStart.probeWritesWhileRefused(redis, config.node().id()));
        record.onLost(() -> worker.setPaused(NODE_ID_TAKEN_OVER, true));
        if (grantor != null) {
            leases.every(grantor.stepEvery(), "grantor-lease", grantor::step);
        }
        leases.every(record.renewEvery(), "node-record", () -> {
            try {
                record.renew();
            } catch (RuntimeException e) {
                log.debug("renewing the node record failed", e);
            }
        });
        maintenance.schedule(record.renewEvery(), "member-registration", () -> {
            registerMember();
            if (vetting != null) {
                try {
                    vetting.check();
                } catch (RuntimeException e) {
                    log.debug("vetting the cluster's members failed", e);
                }
            }
        });
        long keepAliveMs = Math.max(200, config.queue().visibilityTimeoutSecs() * 1000L / 3);
        maintenance.start(Duration.ofMillis(keepAliveMs));
        hub.warmUp(WARM_UP_REQUESTS, 4);
        worker.start();
        long heartbeatMs = config.node().heartbeatIntervalSecs() * 1000L;
        events.started(queue.mode(), config.node().concurrency(), config.redis().poolSize(), heartbeatMs);
        if (limitsFollower != null) {
            limitsFollower.startAnnouncing(); // after node-started, which opens the run for the coordinator
        }
        if (publisher != EventSink.NONE) {
            sampler.scheduleAtFixedRate(() -> events.heartbeat(heartbeatMs), heartbeatMs, heartbeatMs, TimeUnit.MILLISECONDS);
        }
        running = true;
        log.info("node {} started: {} mode on {} ({}), concurrency {}, Redis pool {}", config.node().id(),
                queue.mode(), config.queue().key(),
                config.redis().redactedUrl(), config.node().concurrency(), config.redis().poolSize());
    }

    /** Registers this node's Hazelcast member in Redis, so that the other nodes know it for a Sluice node. */
    private void registerMember() {
        if (vetting == null) {
            return;
        }
        try {
            vetting.register(Duration.ofMillis(10L * config.node().leaseMs()));
        } catch (RuntimeException e) {
            log.debug("registering the cluster member failed; tried again at the next renewal", e);
        }
    }

    /** Graceful stop: drain, then close everything. Returns the number of jobs handed back. */
    public int stop() {
        running = false;
        log.info("node {} draining (up to {} s)", config.node().id(), config.node().drainTimeoutSecs());
        events.stopping("shutdown");
        int handedBack = worker.drain();
        // After the drain the node holds nothing: its id is free for a restart at once (renewals stopped first, or
        // one would write the record again).
        leases.close();
        maintenance.close();
        if (grantor != null) {
            grantor.end();
        }
        record.release();
        close();
        log.info("node {} stopped; {} job(s) handed back to the queue", config.node().id(), handedBack);
        return handedBack;
    }

    @Override
    public void close() {
        running = false;
        worker.close();
        leases.close();
        maintenance.close();
        sampler.shutdownNow();
        sink.close();
        publisher.close();
        hub.close();
        limiter.close();
        queue.close();
        leaseConnection.close();
        redis.close();
        if (cluster != null) {
            cluster.close();
        }
    }

    /** True from the end of {@link #start()} until {@link #stop()} or {@link #close()} begins. */
    public boolean isRunning() {
        return running;
    }

    public SluiceConfig config() {
        return config;
    }

    public Worker worker() {
        return worker;
    }

    public JobQueue queue() {
        return queue;
    }

    public PoolMonitor poolMonitor() {
        return poolMonitor;
    }

    public RedisConnections redis() {
        return redis;
    }

    public Maintenance maintenance() {
        return maintenance;
    }

    public HubClient hub() {
        return hub;
    }

    /** The node's events (taken by no one when {@code kafka.enabled} is false). */
    public NodeEvents events() {
        return events;
    }

    /** The embedded cluster member, or null for a node without a cluster. */
    public ClusterMember cluster() {
        return cluster;
    }

    /** The follower of the fleet's live limits, or null for a node without a fleet limiter. */
    public LimitsFollower limitsFollower() {
        return limitsFollower;
    }

    /**
     * Changes the fleet's limits (the record in Redis; every node follows it), if the record is still at
     * {@code expectedVersion} (any when null).
     *
     * @throws IllegalStateException    for a node without a fleet limiter
     * @throws IllegalArgumentException for limits out of bounds
     */
    public FleetRecord.Change changeLimits(Long expectedVersion, int maxPerSecond, int maxInFlight, String by) {
        if (!limiter.followsFleetLimits()) {
            throw new IllegalStateException("this node keeps the Hub's limits alone (no fleet limiter): they change "
                    + "with its configuration");
        }
        return redis.withJedis(j -> limitsRecord.setLimits(j, expectedVersion, maxPerSecond, maxInFlight, by));
    }

    /** Whether the node shares the Hub's limits with a fleet (and so follows the fleet's live limits). */
    public boolean hasFleetLimiter() {
        return limiter.followsFleetLimits();
    }

    /** The fleet's limiter, or null for a node alone. */
    public FleetHubLimiter fleetLimiter() {
        return fleet;
    }

    /** Whether the fleet's record says the fleet is paused, as this node last read it. */
    public boolean fleetPaused() {
        return limitsFollower.pause().paused();
    }

    public HubLimiter limiter() {
        return limiter;
    }

    /** The one clock of the node's parts. */
    public Clock clock() {
        return clock;
    }

    public MeterRegistry meters() {
        return meters;
    }

    /** The node's liveness record in Redis. */
    public NodeRecord record() {
        return record;
    }

    /** Watches the node's loops; what it reports decides liveness. */
    public LoopWatch loopWatch() {
        return watch;
    }
}
