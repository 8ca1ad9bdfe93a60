package dev.sluice.common.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
public record AlertsConfig(int rateWindowSecs, int rateMinOperations, List<String> breakerInhibits,
                           Map<String, Rule> rules, Map<String, Integer> extras) {

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

    /** What a rule's threshold is and which key sets it. */
    private record Threshold(String key, double defaultValue, double min, double max, boolean fraction) {
        static final Threshold NONE = new Threshold("", 0, 0, 0, false);

        /** {@code <rule>_threshold}, a fraction strictly between 0 and 1. */
        static Threshold fraction(double defaultValue) {
            return new Threshold("threshold", defaultValue, 0, 1, true);
        }

        /** {@code <rule>_<key>}, a whole number in [min, max]. */
        static Threshold count(String key, int defaultValue, int min, int max) {
            return new Threshold(key, defaultValue, min, max, false);
        }
    }

    /**
     * One row of the table of defaults: the rule, its threshold, the whole-number settings it has besides (read right
     * after the threshold, as {@code <rule>_<key>}), its default for-duration ({@code null}: the rule
     * has no {@code _for_secs} key and fires at once) and its default severity. Every rule also has
     * {@code <rule>_severity} and {@code <rule>_labels}.
     */
    private record Defaults(String name, Threshold threshold, List<Threshold> extras, Integer forSecs,
                            String severity) {
        Defaults(String name, Threshold threshold, Integer forSecs, String severity) {
            this(name, threshold, List.of(), forSecs, severity);
        }
    }

    /** The rules and their defaults, in the order the reference documents them. A new rule is one row here. */
    private static final List<Defaults> TABLE = List.of(
            new Defaults(POOL_USAGE, Threshold.fraction(0.8), 60, "warning"),
            new Defaults(BREAKER_NOT_CLOSED, Threshold.NONE, 300, "critical"),
            new Defaults(CONNECTION_TIMEOUT_RATE, Threshold.fraction(0.05), 0, "warning"),
            new Defaults(REDIS_ERROR_RATE, Threshold.fraction(0.01), 0, "warning"),
            new Defaults(HUB_ERROR_RATE, Threshold.fraction(0.05), 0, "warning"),
            new Defaults(HUB_RATE_LIMITED, Threshold.fraction(0.01), 0, "warning"),
            new Defaults(NODE_DOWN, Threshold.count("missed_heartbeats", 3, 1, 1_000), 0, "critical"),
            new Defaults(BACKLOG_NOT_DRAINING, Threshold.count("age_secs", 600, 1, 604_800), 0, "warning"),
            new Defaults(DEAD_LETTER_GROWTH, Threshold.count("threshold", 10, 0, 1_000_000_000),
                    List.of(Threshold.count("window_secs", 300, 1, 86_400)), 0, "warning"),
            new Defaults(LIMITER_DEGRADED, Threshold.NONE, 30, "critical"),
            new Defaults(WATCHDOG, Threshold.NONE, null, "none"));

    /** Every rule, in the order the reference documents them. */
    public static final List<String> RULES = TABLE.stream().map(Defaults::name).toList();

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

    public AlertsConfig {
        breakerInhibits = List.copyOf(breakerInhibits);
        rules = Map.copyOf(rules);
        extras = Map.copyOf(extras);
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
        int rateWindowSecs = r.intIn("alerts.rate_window_secs", 60, 1, 3_600);
        int rateMinOperations = r.intIn("alerts.rate_min_operations", 20, 0, 1_000_000_000);
        Map<String, Rule> rules = new LinkedHashMap<>();
        Map<String, Integer> extras = new LinkedHashMap<>();
        for (Defaults row : TABLE) {
            rules.put(row.name(), read(r, row, extras));
        }
        return new AlertsConfig(rateWindowSecs, rateMinOperations, inhibits, rules, extras);
    }

    private static Rule read(ConfigReader r, Defaults row, Map<String, Integer> extras) {
        String prefix = "alerts." + row.name() + "_";
        Threshold t = row.threshold();
        double threshold = t == Threshold.NONE ? 0
                : t.fraction() ? r.doubleBetween(prefix + t.key(), t.defaultValue(), t.min(), t.max())
                : r.intIn(prefix + t.key(), (int) t.defaultValue(), (int) t.min(), (int) t.max());
        for (Threshold extra : row.extras()) {
            extras.put(row.name() + "_" + extra.key(), r.intIn(prefix + extra.key(), (int) extra.defaultValue(),
                    (int) extra.min(), (int) extra.max()));
        }
        int forSecs = row.forSecs() == null ? 0 : r.intIn(prefix + "for_secs", row.forSecs(), 0, 86_400);
        return new Rule(row.name(), threshold, forSecs, r.oneOf(prefix + "severity", row.severity(), SEVERITIES),
                r.labels(prefix + "labels", RESERVED_LABELS));
    }

    /** The settings of the named rule (one of {@link #RULES}). */
    public Rule rule(String name) {
        Rule rule = rules.get(name);
        if (rule == null) {
            throw new IllegalArgumentException("no alert rule " + name + "; rules: " + String.join(", ", RULES));
        }
        return rule;
    }

    /**
     * The value of the per-rule key {@code alerts.<name>} ({@code pool_usage_threshold}, {@code node_down_labels}),
     * as the loader read it; empty when {@code name} is not a per-rule key.
     */
    public Optional<Object> ruleSetting(String name) {
        if (extras.containsKey(name)) {
            return Optional.of(extras.get(name));
        }
        for (Defaults row : TABLE) {
            if (!name.startsWith(row.name() + "_")) {
                continue;
            }
            String setting = name.substring(row.name().length() + 1);
            Rule rule = rule(row.name());
            if (row.threshold() != Threshold.NONE && setting.equals(row.threshold().key())) {
                return Optional.of(row.threshold().fraction() ? (Object) rule.threshold() : (Object) (int) rule.threshold());
            }
            switch (setting) {
                case "for_secs" -> {
                    return row.forSecs() == null ? Optional.empty() : Optional.of(rule.forSecs());
                }
                case "severity" -> {
                    return Optional.of(rule.severity());
                }
                case "labels" -> {
                    return Optional.of(rule.labels());
                }
                default -> {
                }
            }
        }
        return Optional.empty();
    }

    /** The window dead-letter growth is measured over ({@code dead_letter_growth_window_secs}). */
    public int deadLetterGrowthWindowSecs() {
        return extras.get(DEAD_LETTER_GROWTH + "_window_secs");
    }

    /** Heartbeats a node may miss before it counts as down ({@code node_down_missed_heartbeats}). */
    public int nodeDownMissedHeartbeats() {
        return (int) rule(NODE_DOWN).threshold();
    }
}
