package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.common.event.EventPayload.PoolSample;
import dev.sluice.common.event.EventPayload.QueueSample;
import dev.sluice.coordinator.state.BreakerView;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.Counts;
import dev.sluice.coordinator.state.LimiterView;
import dev.sluice.coordinator.state.NodeView;
import dev.sluice.coordinator.state.QueueView;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The default alert rules: the post-mortem's four (pool usage, breaker not closed, connection timeout rate, Redis
 * error rate) and the coordinator's own (Hub error rate, Hub 429 rate, node down, backlog not draining, dead-letter
 * growth, limiter degraded, watchdog).
 *
 * <p>Per-node rules ({@link NodeRule}s, judged node by node) look at live nodes only: a dead node's last pool sample
 * or breaker state says nothing about now, and its being down is the node-down alert's business.
 */
public final class Rules {

    private Rules() {
    }

    /** Every rule, configured. */
    public static List<AlertRule> defaults(AlertsConfig config) {
        Duration rateWindow = Duration.ofSeconds(config.rateWindowSecs());
        long minOps = config.rateMinOperations();
        return List.of(
                new PoolUsage(config.rule(AlertsConfig.POOL_USAGE)),
                new BreakerNotClosed(config.rule(AlertsConfig.BREAKER_NOT_CLOSED)),
                new Rate(config.rule(AlertsConfig.CONNECTION_TIMEOUT_RATE), "SluiceConnectionTimeoutRateHigh",
                        "connection timeout rate", rateWindow, minOps, Counts::connectionTimeoutRate,
                        c -> c.redisOperations() + c.hubRequests(),
                        c -> c.connectionTimeouts() + " connection timeouts (Redis borrow and socket, Hub connect and "
                                + "request) in " + c.redisOperations() + " Redis operations and " + c.hubRequests()
                                + " Hub requests"),
                new Rate(config.rule(AlertsConfig.REDIS_ERROR_RATE), "SluiceRedisErrorRateHigh", "Redis error rate",
                        rateWindow, minOps, Counts::redisErrorRate, Counts::redisOperations,
                        c -> c.redisErrors() + " failed of " + c.redisOperations() + " Redis operations"),
                new Rate(config.rule(AlertsConfig.HUB_ERROR_RATE), "SluiceHubErrorRateHigh", "Hub error rate",
                        rateWindow, minOps, Counts::hubErrorRate, Counts::hubRequests,
                        c -> (c.hubErrors() + c.hubTimeouts()) + " failed (" + c.hubTimeouts() + " timeouts) of "
                                + c.hubRequests() + " Hub requests"),
                new Rate(config.rule(AlertsConfig.HUB_RATE_LIMITED), "SluiceHubRateLimited", "Hub 429 rate",
                        rateWindow, minOps, Counts::hubRateLimitedRate, Counts::hubRequests,
                        c -> c.hubRateLimited() + " answered 429 of " + c.hubRequests()
                                + " Hub requests: the fleet limits are above what the Hub allows"),
                new NodeDown(config.rule(AlertsConfig.NODE_DOWN)),
                new BacklogNotDraining(config.rule(AlertsConfig.BACKLOG_NOT_DRAINING)),
                new DeadLetterGrowth(config.rule(AlertsConfig.DEAD_LETTER_GROWTH),
                        Duration.ofSeconds(config.deadLetterGrowthWindowSecs())),
                new LimiterDegraded(config.rule(AlertsConfig.LIMITER_DEGRADED)),
                new Watchdog(config.rule(AlertsConfig.WATCHDOG)));
    }

    /** The longest stretch of history any of these rules reads. */
    public static Duration longestLookBack(AlertsConfig config) {
        long secs = Math.max(config.rateWindowSecs(), config.deadLetterGrowthWindowSecs());
        for (String rule : AlertsConfig.RULES) {
            secs = Math.max(secs, config.rule(rule).forSecs());
        }
        return Duration.ofSeconds(secs);
    }

    static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.1f%%", fraction * 100);
    }

    static String secs(Duration d) {
        return d.toSeconds() + " s";
    }

    /** Redis pool usage (active / max) above the threshold on a node. */
    record PoolUsage(AlertsConfig.Rule settings) implements NodeRule {
        @Override
        public String alertname() {
            return "SluicePoolUsageHigh";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster, NodeView node) {
            Instant since = node.poolUsageAboveSince(settings.threshold());
            if (node.pool() == null || since == null) {
                return List.of();
            }
            PoolSample p = node.pool().sample();
            return List.of(new Condition(Map.of("node", node.id()), since, p.usage(),
                    "Redis pool usage " + percent(p.usage()) + " on " + node.id() + " (above "
                            + percent(settings.threshold()) + ")",
                    "Node " + node.id() + " has " + p.active() + " of " + p.max() + " pooled Redis connections in use, "
                            + p.idle() + " idle, " + p.waiters() + " callers waiting (mean borrow wait "
                            + String.format(Locale.ROOT, "%.1f", p.meanBorrowWaitMs()) + " ms); above "
                            + percent(settings.threshold()) + " since " + since + "."));
        }
    }

    /** A breaker open, half-open or cycling between them, on a node. */
    record BreakerNotClosed(AlertsConfig.Rule settings) implements NodeRule {
        @Override
        public String alertname() {
            return "SluiceBreakerNotClosed";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster, NodeView node) {
            List<Condition> found = new ArrayList<>();
            node.breakers().forEach((name, breaker) -> {
                if (breaker.notClosed()) {
                    found.add(condition(node, name, breaker, cluster.at()));
                }
            });
            return found;
        }

        private static Condition condition(NodeView node, String name, BreakerView breaker, Instant now) {
            Duration open = Duration.between(breaker.notClosedSince(), now);
            return new Condition(Map.of("node", node.id(), "breaker", name), breaker.notClosedSince(),
                    open.toSeconds(),
                    "Breaker " + name + " on " + node.id() + " not closed for " + secs(open),
                    "Breaker " + name + " on node " + node.id() + " is " + breaker.state() + " and has not been CLOSED"
                            + " since " + breaker.notClosedSince() + "; calls through it are refused or rationed.");
        }
    }

    /** A fraction of failures over the cluster's operations within the rate window. */
    record Rate(AlertsConfig.Rule settings, String alertname, String what, Duration window, long minOperations,
                ToDoubleFunction<Counts> rate, ToLongFunction<Counts> operations,
                Function<Counts, String> figures) implements AlertRule {
        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            Counts totals = cluster.totals(window);
            long ops = operations.applyAsLong(totals);
            double value = rate.applyAsDouble(totals);
            if (ops == 0 || ops < minOperations || value <= settings.threshold()) {
                return List.of();
            }
            return List.of(new Condition(Map.of(), null, value,
                    capitalized(what) + " " + percent(value) + " over the last " + secs(window) + " (above "
                            + percent(settings.threshold()) + ")",
                    "Cluster-wide in the last " + secs(window) + ": " + figures.apply(totals) + "."));
        }

        private static String capitalized(String s) {
            return Character.toUpperCase(s.charAt(0)) + s.substring(1);
        }
    }

    /** A node that has not said it is stopping and has missed its heartbeats. */
    record NodeDown(AlertsConfig.Rule settings) implements NodeRule {
        @Override
        public String alertname() {
            return "SluiceNodeDown";
        }

        /** Every known node: the live ones are the ones it does not alert on. */
        @Override
        public List<NodeView> nodes(ClusterSnapshot cluster) {
            return cluster.nodes();
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster, NodeView node) {
            if (node.stopped() || node.alive()) {
                return List.of();
            }
            Duration silent = Duration.between(node.lastSeen(), cluster.at());
            return List.of(new Condition(Map.of("node", node.id()), node.downSince(), silent.toSeconds(),
                    "Node " + node.id() + " is down: no heartbeat for " + secs(silent),
                    "Node " + node.id() + " was last heard from at " + node.lastSeen() + " and has missed "
                            + (int) settings.threshold() + " heartbeats of " + node.heartbeatInterval().toMillis()
                            + " ms without saying it was stopping. Its in-flight jobs are reclaimed by the others."));
        }
    }

    /** The oldest waiting job is older than the threshold. */
    record BacklogNotDraining(AlertsConfig.Rule settings) implements AlertRule {
        @Override
        public String alertname() {
            return "SluiceBacklogNotDraining";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            Optional<QueueView> latest = cluster.latestQueueOfLiveNodes();
            if (latest.isEmpty()) {
                return List.of();
            }
            QueueSample q = latest.get().sample();
            long thresholdMs = (long) settings.threshold() * 1000;
            if (q.oldestWaitingAgeMs() <= thresholdMs) {
                return List.of();
            }
            // The oldest job crossed the threshold this long before the sample was taken.
            Instant since = latest.get().sampledAt().minusMillis(q.oldestWaitingAgeMs() - thresholdMs);
            return List.of(new Condition(Map.of(), since, q.oldestWaitingAgeMs() / 1000.0,
                    "Backlog not draining: the oldest waiting job is " + q.oldestWaitingAgeMs() / 1000 + " s old",
                    "The oldest waiting job has waited " + q.oldestWaitingAgeMs() / 1000 + " s (threshold "
                            + (long) settings.threshold() + " s); " + q.waiting() + " waiting, " + q.pending()
                            + " in flight, " + q.delayed() + " delayed, " + q.dead() + " dead (sampled by "
                            + latest.get().node() + " at " + latest.get().sampledAt() + ")."));
        }
    }

    /** More jobs dead-lettered within the window than the threshold. */
    record DeadLetterGrowth(AlertsConfig.Rule settings, Duration window) implements AlertRule {
        @Override
        public String alertname() {
            return "SluiceDeadLetterGrowth";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            long dead = cluster.totals(window).jobsDeadLettered();
            if (dead <= settings.threshold()) {
                return List.of();
            }
            return List.of(new Condition(Map.of(), null, dead,
                    dead + " jobs dead-lettered in the last " + secs(window),
                    dead + " jobs went to the dead-letter queue in the last " + secs(window) + " (threshold "
                            + (long) settings.threshold() + "); see sluice dlq list for their reasons."));
        }
    }

    /** A node's fleet limiter runs on its store-failure policy. */
    record LimiterDegraded(AlertsConfig.Rule settings) implements NodeRule {
        @Override
        public String alertname() {
            return "SluiceLimiterDegraded";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster, NodeView node) {
            LimiterView l = node.limiter();
            if (l == null || !l.degraded()) {
                return List.of();
            }
            return List.of(new Condition(Map.of("node", node.id()), l.since(), 1,
                    "Fleet limiter degraded on " + node.id(),
                    "The fleet limiter of node " + node.id() + " is " + l.state()
                            + (l.reason() == null ? "" : " (" + l.reason() + ")")
                            + (l.policy() == null ? "" : "; store-failure policy " + l.policy())
                            + " since " + l.since() + "."));
        }
    }

    /** Always firing: a receiver that stops hearing it knows the coordinator is gone. */
    record Watchdog(AlertsConfig.Rule settings) implements AlertRule {
        @Override
        public String alertname() {
            return "SluiceWatchdog";
        }

        @Override
        public List<Condition> evaluate(ClusterSnapshot cluster) {
            return List.of(new Condition(Map.of(), null, 1, "Sluice coordinator watchdog",
                    "Always firing while the coordinator evaluates its rules. Route it to a dead man's switch: when it "
                            + "stops arriving, the coordinator is down."));
        }
    }
}
