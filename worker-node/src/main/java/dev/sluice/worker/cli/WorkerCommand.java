package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.WorkerNode;
import dev.sluice.worker.admin.AdminServer;
import dev.sluice.worker.admin.LimitsControl;
import dev.sluice.control.FleetRecord;
import dev.sluice.worker.WorkerNodeStatus;
import dev.sluice.worker.identity.NodeRecord;
import dev.sluice.worker.admin.NodeMeters;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code sluice worker}: runs a worker node and its admin endpoint until the process is told to stop. SIGTERM (or
 * Ctrl-C) drains the node gracefully (see {@link WorkerNode#stop()}), then stops the admin endpoint; the JVM then
 * exits with 143 (128 + SIGTERM), as any JVM ended by a signal does.
 */
@Command(name = "worker", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Runs a worker node: takes jobs from the queue, calls the Hub within the fleet's limits, "
                + "writes results to the sink. Serves /health/live, /health/ready, /metrics and /api/status on "
                + "[metrics] bind:port. SIGTERM drains it gracefully.")
final class WorkerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(WorkerCommand.class);

    @Mixin
    ConfigOptions options;

    private final CliContext context;

    WorkerCommand(CliContext context) {
        this.context = context;
    }

    @Override
    public Integer call() throws InterruptedException {
        SluiceConfig config = options.load(context.env());
        PrometheusMeterRegistry registry = NodeMeters.registry();
        WorkerNode node = new WorkerNode(config, registry, context.clock());
        AdminServer admin = new AdminServer(config.metrics(), registry, new WorkerNodeStatus(node));
        if (node.hasFleetLimiter()) {
            admin.acceptLimitChanges((expected, rps, inFlight, by) -> {
                FleetRecord.Change change = node.changeLimits(expected, rps, inFlight,
                        by + " (admin endpoint of node " + config.node().id() + ")");
                return new LimitsControl.Result(change.applied(), change.limits() == null ? null : change.limits().toMap());
            });
        }
        try {
            admin.start();
        } catch (UncheckedIOException e) {
            node.close();
            throw new CliException(ExitCodes.FAILURE, e.getMessage(), e);
        }
        log.info("admin endpoint on {} (GET /health/live, /health/ready, /metrics, /api/status; POST /api/limits with "
                + "the token)", admin.uri());

        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = Thread.ofPlatform().name("sluice-shutdown").unstarted(() -> {
            log.info("shutdown requested: stopping node {}", config.node().id());
            try {
                node.stop();
            } finally {
                admin.stop();
                stopped.countDown();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            node.start();
        } catch (RuntimeException e) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs already and closes everything.
                throw e;
            }
            node.close();
            admin.stop();
            if (e instanceof NodeRecord.NodeIdInUse inUse) {
                throw new CliException(ExitCodes.FAILURE, inUse.getMessage(), inUse);
            }
            throw RedisFailures.isRedisFailure(e) ? RedisFailures.describe(e, config) : e;
        }
        stopped.await();
        return ExitCodes.OK;
    }
}
