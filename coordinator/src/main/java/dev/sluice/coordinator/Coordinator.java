package dev.sluice.coordinator;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.common.config.CoordinatorConfig;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.adminhttp.AdminHttp;
import dev.sluice.adminhttp.BearerTokens;
import dev.sluice.adminhttp.Responses;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertEngine;
import dev.sluice.coordinator.alerting.AlertRule;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.Rules;
import dev.sluice.coordinator.dashboard.DashboardFeed;
import dev.sluice.coordinator.dashboard.DashboardStream;
import dev.sluice.coordinator.dashboard.DeadLetterOperations;
import dev.sluice.coordinator.dashboard.FleetControl;
import dev.sluice.coordinator.dashboard.OperatorEvents;
import dev.sluice.coordinator.dashboard.Operations;
import dev.sluice.coordinator.feed.AlertFeed;
import dev.sluice.coordinator.feed.AlertStream;
import dev.sluice.coordinator.feed.ClusterFeed;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.coordinator.ingest.EventConsumer;
import dev.sluice.coordinator.ingest.IngestStats;
import dev.sluice.coordinator.ingest.Topics;
import dev.sluice.coordinator.internal.LogThrottle;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.ClusterState;
import dev.sluice.coordinator.store.AlertTopic;
import dev.sluice.coordinator.webhook.AlertmanagerWebhook;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator, wired: events consumer -> cluster state -> alert engine -> alerts topic, HTTP feed and event
 * stream, webhook. Built from configuration and a clock; {@link #start()} serves HTTP at once and brings up the rest
 * in the background, because it waits for Kafka:
 *
 * <ol>
 *   <li>create the events topic and the compacted alerts topic if missing;</li>
 *   <li>read the alerts topic to its end and take over its alerts (firing stays firing, resolved stays resolved);</li>
 *   <li>consume the events topic from {@code [coordinator] replay_secs} ago, and once caught up</li>
 *   <li>evaluate the rules every {@code evaluation_interval_ms}.</li>
 * </ol>
 *
 * <p>{@code /health/ready} answers 200 from the first evaluation on. One coordinator runs per cluster: a second one
 * in the same consumer group would see only some nodes' events.
 *
 * <p>Nothing a node sends can stop the evaluation: the state refuses events out of bounds and tracks at most
 * {@link ClusterState#DEFAULT_MAX_NODES} nodes, the engine holds the alerts of a rule that throws and goes on with
 * the others, and an evaluation that fails as a whole is counted, logged at most once a minute and tried again at the
 * next interval.
 *
 * <p>No zombie: the events consumer, the evaluator and the webhook sender are watched by a {@link LoopWatch}.
 * {@code /health/live} answers 503 with the problems when one of them has work and has not come round for three of
 * its periods (at least 30 s) or ended by an error; a {@link VirtualMachineError} on one of them marks the
 * coordinator dead and ends the process (status 70).
 */
public final class Coordinator implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Coordinator.class);
    private static final Duration KAFKA_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STARTUP_RETRY = Duration.ofSeconds(2);
    /**
     * What every HTTP answer carries: scripts, styles and connections from the coordinator itself only (the page has
     * no inline script), never in a frame.
     */
    static final Map<String, String> SECURITY_HEADERS = Map.of(
            "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                    + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options", "nosniff",
            "X-Frame-Options", "DENY",
            "Referrer-Policy", "no-referrer");
    /** How far past the last confirmed read the events still count as current (the consumer probes every 0.25 s). */
    static final Duration EVENTS_GRACE = Duration.ofMillis(500);

    private final SluiceConfig config;
    private final Clock clock;
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ClusterState state;
    private final AlertEngine engine;
    private final IngestStats ingestStats;
    private final AlertStream stream;
    private final AdminHttp server;
    private final Map<String, Object> kafkaClient;
    private final ScheduledExecutorService evaluator;
    private final LoopWatch watch;
    private volatile LoopWatch.Loop evaluation;
    private final Counter evaluationFailures;
    private final LogThrottle logs = new LogThrottle(Duration.ofMinutes(1));
    private volatile AlertTopic alertTopic;
    private volatile AlertmanagerWebhook webhook;
    private volatile EventConsumer consumer;
    private volatile Thread startup;
    private volatile String startupStep = "not started";
    private volatile boolean evaluating;
    private volatile boolean closed;
    private volatile ClusterSnapshot lastSnapshot;
    private final FleetControl fleet;
    private final OperatorEvents operatorEvents;
    private volatile DashboardStream dashboardStream;
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("sluice-dashboard-sampler").daemon().factory());

    public Coordinator(SluiceConfig config, Clock clock) {
        this(config, clock, LoopWatch.forCoordinator());
    }

    /** A coordinator whose loops {@code watch} watches (tests pass their own clock and exit). */
    public Coordinator(SluiceConfig config, Clock clock, LoopWatch watch) {
        this.config = config;
        this.clock = clock;
        this.watch = watch;
        CoordinatorConfig c = config.coordinator();
        AlertsConfig alerts = config.alerts();
        Duration history = max(Duration.ofSeconds(c.replaySecs()), Rules.longestLookBack(alerts)).plusMinutes(1);
        this.state = new ClusterState(new ClusterState.Settings(Duration.ofMillis(c.heartbeatIntervalMs()),
                alerts.nodeDownMissedHeartbeats(), history, Duration.ofSeconds(c.nodeForgetSecs())));
        List<AlertRule> rules = Rules.defaults(alerts);
        this.engine = new AlertEngine(rules, alerts.breakerInhibits(), Duration.ofSeconds(c.resolvedRetentionSecs()));
        this.ingestStats = new IngestStats(meters);
        this.stream = new AlertStream(Duration.ofSeconds(15));
        this.engine.addListener(stream);
        this.server = new AdminHttp("the coordinator's HTTP endpoint ([metrics] bind and port)", config.metrics().bind(),
                config.metrics().port())
                .access(new BearerTokens(c.tokens(), "operations are off on this coordinator: no coordinator.tokens "
                        + "configured"))
                .hostnames(HostNames.of(config), "coordinator.hostnames")
                .headers(SECURITY_HEADERS);
        this.fleet = new FleetControl(config);
        this.kafkaClient = config.kafka().clientProperties(null);
        this.operatorEvents = new OperatorEvents(kafkaClient, config.kafka().eventsTopic(), clock);
        fleet.publishTo(operatorEvents);
        this.evaluator = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("sluice-alert-evaluation").daemon().factory());
        this.evaluationFailures = Counter.builder("sluice.coordinator.evaluation.failures")
                .description("Evaluations that failed as a whole (tried again at the next interval)").register(meters);
        registerMeters(rules);
    }

    /** Builds and starts a coordinator on the system clock. */
    public static Coordinator start(SluiceConfig config) {
        return new Coordinator(config, Clock.systemUTC()).start();
    }

    private void registerMeters(List<AlertRule> rules) {
        for (AlertRule rule : rules) {
            Gauge.builder("sluice.coordinator.alerts.firing", engine, e -> e.firingByRule().getOrDefault(rule.name(), 0L))
                    .description("Alerts firing, by rule").tag("rule", rule.name()).register(meters);
            FunctionCounter.builder("sluice.coordinator.evaluation.rule_failures", engine,
                            e -> e.failuresByRule().getOrDefault(rule.name(), 0L))
                    .description("Evaluations of a rule, for the cluster or one node, that threw (its alerts there "
                            + "were held)").tag("rule", rule.name()).register(meters);
        }
        FunctionCounter.builder("sluice.coordinator.evaluation.nodes_skipped", state, ClusterState::nodesSkipped)
                .description("Nodes left out of an evaluation because their state could not be read").register(meters);
        Gauge.builder("sluice.coordinator.nodes.alive", this,
                        co -> co.lastSnapshot == null ? 0 : co.lastSnapshot.aliveNodes().size())
                .description("Nodes alive at the last evaluation").register(meters);
        Gauge.builder("sluice.coordinator.nodes.known", this,
                        co -> co.lastSnapshot == null ? 0 : co.lastSnapshot.nodes().size())
                .description("Nodes known (alive, down, stopped) at the last evaluation").register(meters);
        Gauge.builder("sluice.coordinator.ready", this, co -> co.evaluating ? 1 : 0)
                .description("1 once the coordinator evaluates its rules (after replaying recent events)").register(meters);
        Gauge.builder("sluice.coordinator.events.staleness", this, Coordinator::eventsStalenessSeconds)
                .description("Seconds since the events were last known to be read up to the end of the topic")
                .baseUnit("seconds").register(meters);
    }

    /** Serves HTTP and starts bringing up the rest in the background. */
    public synchronized Coordinator start() {
        if (startup != null) {
            return this;
        }
        AlertFeed alertFeed = new AlertFeed(engine, clock);
        ClusterFeed clusterFeed = new ClusterFeed(this::snapshot, ingestStats,
                Duration.ofSeconds(config.alerts().rateWindowSecs()));
        server.read("/health/live", ex -> {
                    List<String> problems = watch.problems();
                    if (problems.isEmpty()) {
                        Responses.json(ex, 200, Map.of("status", "UP"));
                    } else {
                        Responses.json(ex, 503, Map.of("status", "DOWN", "problems", problems));
                    }
                })
                .read("/health/ready", ex -> {
                    if (evaluating) {
                        Responses.json(ex, 200, Map.of("status", "READY"));
                    } else {
                        Responses.json(ex, 503, Map.of("status", "NOT_READY", "reason", startupStep));
                    }
                })
                .read("/metrics", ex -> Responses.send(ex, 200, Responses.PROMETHEUS_TEXT,
                        meters.scrape().getBytes(StandardCharsets.UTF_8)))
                .read("/api/alerts", alertFeed::serve)
                .read("/api/alerts/stream", stream)
                .read("/api/cluster", clusterFeed::serve);
        // The page's rates look back 15 s (three default heartbeats), not the alerts' window: it shows what happens now.
        Duration pageWindow = Duration.ofSeconds(Math.min(15, config.alerts().rateWindowSecs()));
        DashboardFeed dashboard = new DashboardFeed(this::snapshot, new ClusterFeed(this::snapshot, ingestStats,
                pageWindow), alertFeed, fleet, pageWindow, !config.coordinator().tokens().isEmpty(), clock);
        dashboardStream = new DashboardStream(dashboard, Duration.ofSeconds(2));
        Operations operations = new Operations(fleet);
        DeadLetterOperations deadLetters = new DeadLetterOperations(fleet, clock);
        server.file("/", Coordinator.class, "/dashboard/index.html", "text/html; charset=utf-8")
                .file("/dashboard.js", Coordinator.class, "/dashboard/dashboard.js", "text/javascript; charset=utf-8")
                .file("/dashboard.css", Coordinator.class, "/dashboard/dashboard.css", "text/css; charset=utf-8")
                .read("/api/dashboard", dashboard::serve)
                .read("/api/dashboard/stream", dashboardStream)
                .operation("/api/fleet/pause", operations::pause)
                .operation("/api/fleet/resume", operations::resume)
                .operation("/api/fleet/limits", operations::limits)
                .read("/api/dlq", deadLetters::list)
                .operation("/api/dlq/show", deadLetters::show)
                .operation("/api/dlq/replay", deadLetters::replay)
                .operation("/api/dlq/discard", deadLetters::discard)
                .start();
        log.info("HTTP endpoint listening on {}", server.uri());
        sampler.scheduleAtFixedRate(() -> {
            try {
                dashboard.sample();
            } catch (RuntimeException e) {
                log.debug("dashboard sample failed", e);
            }
        }, 0, 5, TimeUnit.SECONDS);
        config.coordinator().webhook().ifPresent(url -> {
            URI external = HostNames.externalUrl(config, server.uri().getHost(), server.port());
            webhook = new AlertmanagerWebhook(new AlertmanagerWebhook.Settings(url,
                    Duration.ofMillis(config.coordinator().webhookTimeoutMs()),
                    Duration.ofSeconds(config.coordinator().webhookResendSecs()),
                    config.coordinator().webhookMaxAttempts(),
                    Duration.ofMillis(config.coordinator().webhookBackoffMs()), external),
                    engine::firing, meters, watch);
            engine.addListener(webhook);
            log.info("sending alerts to {}", webhook.target());
        });
        startup = Thread.ofPlatform().name("sluice-coordinator-startup").daemon().start(this::bringUp);
        return this;
    }

    private void bringUp() {
        List<Alert> saved = null;
        while (!closed) {
            try {
                step("creating topics");
                try (Admin admin = Admin.create(kafkaClient)) {
                    Topics.ensure(admin, config.kafka().eventsTopic(), false, KAFKA_TIMEOUT);
                    Topics.ensure(admin, config.kafka().alertsTopic(), true, KAFKA_TIMEOUT);
                }
                step("reading the alerts topic");
                saved = AlertTopic.readAll(kafkaClient, config.kafka().alertsTopic(), KAFKA_TIMEOUT);
                break;
            } catch (RuntimeException e) {
                if (closed) {
                    return;
                }
                log.warn("{} failed, retrying in {}: {}", startupStep, STARTUP_RETRY, e.toString());
                if (!pause()) {
                    return;
                }
            }
        }
        if (closed) {
            return;
        }
        alertTopic = new AlertTopic(kafkaClient, config.kafka().alertsTopic(), meters);
        engine.addListener(alertTopic);
        restore(saved);
        step("reading the events of the last " + config.coordinator().replaySecs() + " s");
        Map<String, Object> consumerConfig = new HashMap<>(kafkaClient);
        consumerConfig.put(ConsumerConfig.GROUP_ID_CONFIG, config.coordinator().groupId());
        consumer = new EventConsumer(consumerConfig, config.kafka().eventsTopic(),
                Duration.ofSeconds(config.coordinator().replaySecs()), state, ingestStats, clock, watch);
        consumer.start();
        while (!closed && !consumer.caughtUp()) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
        if (closed) {
            return;
        }
        long every = config.coordinator().evaluationIntervalMs();
        LoopWatch.Loop loop = watch.register("evaluator", Duration.ofMillis(every), () -> true);
        evaluation = loop;
        evaluator.scheduleAtFixedRate(() -> evaluateWatched(loop), 0, every, TimeUnit.MILLISECONDS);
        step("evaluating every " + every + " ms");
    }

    private void restore(List<Alert> saved) {
        engine.restore(saved, clock.instant());
        long firing = 0;
        long notRemembered = 0;
        for (Alert alert : saved) {
            if (alert.state() == AlertState.FIRING) {
                firing++;
                if (alert.rule().equals(AlertsConfig.NODE_DOWN) && alert.labels().containsKey("node")
                        && !state.rememberDownNode(alert.labels().get("node"), alert.activeAt())) {
                    notRemembered++;
                }
            }
        }
        log.info("took over {} alerts from {} ({} firing)", saved.size(), config.kafka().alertsTopic(), firing);
        if (notRemembered > 0) {
            log.warn("{} nodes down when the earlier coordinator stopped are not tracked again (not a node id, or no "
                    + "room for more than {} nodes)", notRemembered, state.settings().maxNodes());
        }
    }

    /**
     * The cluster now, judged as of the time the events are known to be read up to (plus a grace that covers the
     * consumer's probing), so a Kafka outage freezes liveness and windows instead of calling every node down; and
     * once the events flow again, the nodes' silence during the outage is not held against them.
     */
    public ClusterSnapshot snapshot() {
        Instant now = clock.instant();
        EventConsumer c = consumer;
        Instant current = c == null ? null : c.currentAsOf();
        return state.snapshot(now, current == null ? now : current.plus(EVENTS_GRACE), c == null ? null : c.lastGap());
    }

    /**
     * One round of the evaluator: an exception is counted and tried again at the next interval, and reporting it
     * never throws, since an exception escaping a scheduled task would cancel its schedule, unseen.
     */
    private void evaluateWatched(LoopWatch.Loop loop) {
        try {
            evaluate();
        } catch (RuntimeException e) {
            evaluationFailed(e);
        } catch (Error e) {
            // A scheduled task's error would only cancel its schedule, unseen: hand it on as a thread's would be.
            loop.died();
            watch.uncaughtHandler().uncaughtException(Thread.currentThread(), e);
            throw e;
        }
        loop.tick();
    }

    private void evaluate() {
        ClusterSnapshot snapshot = snapshot();
        lastSnapshot = snapshot;
        engine.evaluate(snapshot);
        if (!evaluating) {
            evaluating = true;
            log.info("coordinator ready: {} nodes known, {} alive, {} alerts firing", snapshot.nodes().size(),
                    snapshot.aliveNodes().size(), engine.firing().size());
        }
    }

    private void evaluationFailed(RuntimeException e) {
        evaluationFailures.increment();
        long held;
        try {
            held = logs.permit("evaluation", clock.instant());
        } catch (RuntimeException clockFailed) {
            // Without a time there is no throttling this line.
            e.addSuppressed(clockFailed);
            held = 0;
        }
        if (held >= 0) {
            log.error("alert evaluation failed; trying again every {} ms ({} more failures in the last {})",
                    config.coordinator().evaluationIntervalMs(), held, logs.period(), e);
        }
    }

    private void step(String what) {
        startupStep = what;
        log.debug("startup: {}", what);
    }

    private boolean pause() {
        try {
            Thread.sleep(STARTUP_RETRY);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    private double eventsStalenessSeconds() {
        EventConsumer c = consumer;
        Instant current = c == null ? null : c.currentAsOf();
        return current == null ? Double.NaN : Duration.between(current, clock.instant()).toMillis() / 1000.0;
    }

    /** True from the first evaluation on. */
    public boolean ready() {
        return evaluating;
    }

    /** What the startup is doing (or "evaluating every ..."). */
    public String startupStep() {
        return startupStep;
    }

    /** The HTTP endpoint, {@code http://host:port/}. */
    public URI uri() {
        return server.uri();
    }

    public int port() {
        return server.port();
    }

    public AlertEngine engine() {
        return engine;
    }

    public ClusterState state() {
        return state;
    }

    public PrometheusMeterRegistry meters() {
        return meters;
    }

    /** Waits until the alerts queued for the alerts topic are written; false on timeout or before start-up ends. */
    public boolean flushAlertTopic(Duration timeout) {
        AlertTopic topic = alertTopic;
        return topic != null && topic.flush(timeout);
    }

    /** Stops evaluating, lets queued webhook deliveries and topic writes go out briefly, and stops everything. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        LoopWatch.Loop loop = evaluation;
        if (loop != null) {
            loop.stopped();
        }
        evaluator.shutdown();
        try {
            evaluator.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Thread t = startup;
        if (t != null) {
            t.interrupt();
        }
        closeQuietly("webhook", webhook);
        closeQuietly("alerts topic", alertTopic);
        closeQuietly("events consumer", consumer);
        closeQuietly("alert stream", stream);
        closeQuietly("dashboard stream", dashboardStream);
        sampler.shutdownNow();
        closeQuietly("Redis connections", fleet);
        closeQuietly("operator events", operatorEvents);
        closeQuietly("HTTP server", server);
        meters.close();
        log.info("coordinator stopped");
    }

    private static void closeQuietly(String what, AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            log.warn("closing the {} failed", what, e);
        }
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
