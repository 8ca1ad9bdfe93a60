package dev.sluice.common.config;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code [alerts]}: the coordinator's alert rules. Every rule has a for-duration (how long its condition must hold
 * before the alert fires; 0 fires at the first evaluation), a severity and extra labels; most have a threshold.
 * Keys are {@code <rule>_<setting>}, e.g. {@code pool_usage_threshold}, {@code node_down_for_secs}.
 *
 * <p>Rate rules ({@code connection_timeout_rate}, {@code redis_error_rate}, {@code hub_error_rate},
 * {@code hub_rate_limited}) are fractions over the last {@code rate_window_secs}, cluster-wide, and stay quiet while
 * fewer than {@code rate_min_operations} operations make up the denominator. While a breaker is open or half-open,
 * the rules listed in {@code breaker_inhibits} raise nothing new: the breaker explains them.
 */
public record AlertsConfig(
        int rateWindowSecs, int rateMinOperations, List<String> breakerInhibits,
        double poolUsageThreshold, int poolUsageForSecs, String poolUsageSeverity, Map<String, String> poolUsageLabels,
        int breakerNotClosedForSecs, String breakerNotClosedSeverity, Map<String, String> breakerNotClosedLabels,
        double connectionTimeoutRateThreshold, int connectionTimeoutRateForSecs, String connectionTimeoutRateSeverity,
        Map<String, String> connectionTimeoutRateLabels,
        double redisErrorRateThreshold, int redisErrorRateForSecs, String redisErrorRateSeverity,
        Map<String, String> redisErrorRateLabels,
        double hubErrorRateThreshold, int hubErrorRateForSecs, String hubErrorRateSeverity,
        Map<String, String> hubErrorRateLabels,
        double hubRateLimitedThreshold, int hubRateLimitedForSecs, String hubRateLimitedSeverity,
        Map<String, String> hubRateLimitedLabels,
        int nodeDownMissedHeartbeats, int nodeDownForSecs, String nodeDownSeverity, Map<String, String> nodeDownLabels,
        int backlogNotDrainingAgeSecs, int backlogNotDrainingForSecs, String backlogNotDrainingSeverity,
        Map<String, String> backlogNotDrainingLabels,
        int deadLetterGrowthThreshold, int deadLetterGrowthWindowSecs, int deadLetterGrowthForSecs,
        String deadLetterGrowthSeverity, Map<String, String> deadLetterGrowthLabels,
        int limiterDegradedForSecs, String limiterDegradedSeverity, Map<String, String> limiterDegradedLabels,
        String watchdogSeverity, Map<String, String> watchdogLabels) {

    public static final String POOL_USAGE = "pool_usage";
    public static final String BREAKER_NOT_CLOSED = "breaker_not_closed";
    public static final String CONNECTION_TIMEOUT_RATE = "connection_timeout_rate";
    public static final String REDIS_ERROR_RATE = "redis_error_rate";
    public static final String HUB_ERROR_RATE = "hub_error_rate";
    public static final String HUB_RATE_LIMITED = "hub_rate_limited";
    public static final String NODE_DOWN = "node_down";
    public static final String BACKLOG_NOT_DRAINING = "backlog_not_draining";
    public static final String DEAD_LETTER_GROWTH = "dead_letter_growth";
    public static final String LIMITER_DEGRADED = "limiter_degraded";
    public static final String WATCHDOG = "watchdog";

    /** Every rule, in the order the reference documents them. */
    public static final List<String> RULES = List.of(POOL_USAGE, BREAKER_NOT_CLOSED, CONNECTION_TIMEOUT_RATE,
            REDIS_ERROR_RATE, HUB_ERROR_RATE, HUB_RATE_LIMITED, NODE_DOWN, BACKLOG_NOT_DRAINING, DEAD_LETTER_GROWTH,
            LIMITER_DEGRADED, WATCHDOG);

    /** The rules an open breaker can explain, so the only ones {@code breaker_inhibits} may name. */
    public static final List<String> INHIBITABLE =
            List.of(CONNECTION_TIMEOUT_RATE, REDIS_ERROR_RATE, HUB_ERROR_RATE, HUB_RATE_LIMITED);

    /** Labels an alert sets itself; extra labels may not use these names. */
    public static final Set<String> RESERVED_LABELS = Set.of("alertname", "severity", "rule", "node", "breaker");

    /** Allowed severities. */
    public static final List<String> SEVERITIES = List.of("critical", "warning", "info", "none");

    /**
     * One rule's settings.
     *
     * @param name       the rule, one of {@link #RULES}
     * @param threshold  what the condition compares with (a fraction, a count or seconds, by rule); 0 when the rule
     *                   has none
     * @param forSecs    how long the condition must hold before the alert fires
     * @param severity   the {@code severity} label
     * @param labels     extra labels
     */
    public record Rule(String name, double threshold, int forSecs, String severity, Map<String, String> labels) {
    }

    public static AlertsConfig ofDefaults() {
        return SluiceConfig.ofDefaults().alerts();
    }

    static AlertsConfig read(ConfigReader r) {
        List<String> inhibits = r.stringList("alerts.breaker_inhibits", List.of(CONNECTION_TIMEOUT_RATE, HUB_ERROR_RATE));
        for (String rule : inhibits) {
            if (!INHIBITABLE.contains(rule)) {
                throw r.invalid("alerts.breaker_inhibits", rule,
                        "must list rules among " + String.join(", ", INHIBITABLE));
            }
        }
        return new AlertsConfig(
                r.intIn("alerts.rate_window_secs", 60, 1, 3_600),
                r.intIn("alerts.rate_min_operations", 20, 0, 1_000_000_000),
                List.copyOf(inhibits),
                fraction(r, POOL_USAGE, 0.8), forSecs(r, POOL_USAGE, 60), severity(r, POOL_USAGE, "warning"),
                labels(r, POOL_USAGE),
                forSecs(r, BREAKER_NOT_CLOSED, 300), severity(r, BREAKER_NOT_CLOSED, "critical"),
                labels(r, BREAKER_NOT_CLOSED),
                fraction(r, CONNECTION_TIMEOUT_RATE, 0.05), forSecs(r, CONNECTION_TIMEOUT_RATE, 0),
                severity(r, CONNECTION_TIMEOUT_RATE, "warning"), labels(r, CONNECTION_TIMEOUT_RATE),
                fraction(r, REDIS_ERROR_RATE, 0.01), forSecs(r, REDIS_ERROR_RATE, 0),
                severity(r, REDIS_ERROR_RATE, "warning"), labels(r, REDIS_ERROR_RATE),
                fraction(r, HUB_ERROR_RATE, 0.05), forSecs(r, HUB_ERROR_RATE, 0),
                severity(r, HUB_ERROR_RATE, "warning"), labels(r, HUB_ERROR_RATE),
                fraction(r, HUB_RATE_LIMITED, 0.01), forSecs(r, HUB_RATE_LIMITED, 0),
                severity(r, HUB_RATE_LIMITED, "warning"), labels(r, HUB_RATE_LIMITED),
                r.intIn("alerts.node_down_missed_heartbeats", 3, 1, 1_000), forSecs(r, NODE_DOWN, 0),
                severity(r, NODE_DOWN, "critical"), labels(r, NODE_DOWN),
                r.intIn("alerts.backlog_not_draining_age_secs", 600, 1, 604_800), forSecs(r, BACKLOG_NOT_DRAINING, 0),
                severity(r, BACKLOG_NOT_DRAINING, "warning"), labels(r, BACKLOG_NOT_DRAINING),
                r.intIn("alerts.dead_letter_growth_threshold", 10, 0, 1_000_000_000),
                r.intIn("alerts.dead_letter_growth_window_secs", 300, 1, 86_400), forSecs(r, DEAD_LETTER_GROWTH, 0),
                severity(r, DEAD_LETTER_GROWTH, "warning"), labels(r, DEAD_LETTER_GROWTH),
                forSecs(r, LIMITER_DEGRADED, 30), severity(r, LIMITER_DEGRADED, "critical"), labels(r, LIMITER_DEGRADED),
                severity(r, WATCHDOG, "none"), labels(r, WATCHDOG));
    }

    private static double fraction(ConfigReader r, String rule, double defaultValue) {
        return r.doubleBetween("alerts." + rule + "_threshold", defaultValue, 0.0, 1.0);
    }

    private static int forSecs(ConfigReader r, String rule, int defaultValue) {
        return r.intIn("alerts." + rule + "_for_secs", defaultValue, 0, 86_400);
    }

    private static String severity(ConfigReader r, String rule, String defaultValue) {
        return r.oneOf("alerts." + rule + "_severity", defaultValue, SEVERITIES);
    }

    private static Map<String, String> labels(ConfigReader r, String rule) {
        return r.labels("alerts." + rule + "_labels", RESERVED_LABELS);
    }

    /** The settings of the named rule (one of {@link #RULES}). */
    public Rule rule(String name) {
        return switch (name) {
            case POOL_USAGE -> new Rule(name, poolUsageThreshold, poolUsageForSecs, poolUsageSeverity, poolUsageLabels);
            case BREAKER_NOT_CLOSED -> new Rule(name, 0, breakerNotClosedForSecs, breakerNotClosedSeverity,
                    breakerNotClosedLabels);
            case CONNECTION_TIMEOUT_RATE -> new Rule(name, connectionTimeoutRateThreshold, connectionTimeoutRateForSecs,
                    connectionTimeoutRateSeverity, connectionTimeoutRateLabels);
            case REDIS_ERROR_RATE -> new Rule(name, redisErrorRateThreshold, redisErrorRateForSecs,
                    redisErrorRateSeverity, redisErrorRateLabels);
            case HUB_ERROR_RATE -> new Rule(name, hubErrorRateThreshold, hubErrorRateForSecs, hubErrorRateSeverity,
                    hubErrorRateLabels);
            case HUB_RATE_LIMITED -> new Rule(name, hubRateLimitedThreshold, hubRateLimitedForSecs,
                    hubRateLimitedSeverity, hubRateLimitedLabels);
            case NODE_DOWN -> new Rule(name, nodeDownMissedHeartbeats, nodeDownForSecs, nodeDownSeverity,
                    nodeDownLabels);
            case BACKLOG_NOT_DRAINING -> new Rule(name, backlogNotDrainingAgeSecs, backlogNotDrainingForSecs,
                    backlogNotDrainingSeverity, backlogNotDrainingLabels);
            case DEAD_LETTER_GROWTH -> new Rule(name, deadLetterGrowthThreshold, deadLetterGrowthForSecs,
                    deadLetterGrowthSeverity, deadLetterGrowthLabels);
            case LIMITER_DEGRADED -> new Rule(name, 0, limiterDegradedForSecs, limiterDegradedSeverity,
                    limiterDegradedLabels);
            case WATCHDOG -> new Rule(name, 0, 0, watchdogSeverity, watchdogLabels);
            default -> throw new IllegalArgumentException("no alert rule " + name + "; rules: " + String.join(", ", RULES));
        };
    }
}
