package dev.sluice.testkit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The naming checks of {@code promtool check metrics} (Prometheus' promlint), for tests that have no promtool: on a
 * scrape in the text format, it lists what promtool would report. A scrape that passes here can still fail promtool
 * on a rule added later; CI also runs the real promtool on every node's and the coordinator's {@code /metrics}
 * (deploy/smoke-test.sh).
 *
 * <p>Checked: every family has a help text; counters end in {@code _total}; only histograms and summaries end in
 * {@code _count}, {@code _sum} or {@code _bucket}; no abbreviated units ({@code _ms}, {@code _ns}, ...) and no units
 * other than the base ones ({@code milliseconds} and the like); no metric type in the name; no camelCase in metric or
 * label names; no colon in names. One rule of Sluice's own: a gauge whose help says it counts "since start" is a
 * counter in disguise (Prometheus' {@code rate()} and {@code increase()} need counters, and handle their restarts).
 */
public final class PromLint {
    private static final Pattern TYPE = Pattern.compile("^# TYPE (\\S+) (\\S+)\\s*$");
    private static final Pattern HELP = Pattern.compile("^# HELP (\\S+)(?: (.*))?$");
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})?\\s+\\S+.*$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"");
    private static final Set<String> ABBREVIATED = Set.of("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb",
            "pb", "m", "h", "d");
    private static final Map<String, String> NON_BASE = Map.ofEntries(
            Map.entry("milliseconds", "seconds"), Map.entry("microseconds", "seconds"),
            Map.entry("nanoseconds", "seconds"), Map.entry("minutes", "seconds"), Map.entry("hours", "seconds"),
            Map.entry("days", "seconds"), Map.entry("weeks", "seconds"), Map.entry("millis", "seconds"),
            Map.entry("kilobytes", "bytes"), Map.entry("megabytes", "bytes"), Map.entry("gigabytes", "bytes"),
            Map.entry("bits", "bytes"), Map.entry("percent", "ratio"), Map.entry("celsius", "kelvin"));
    private static final Set<String> TYPE_WORDS = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    private PromLint() {
    }

    /** What promtool would report on {@code scrape}, one line per problem as it words them; empty when clean. */
    public static List<String> problems(String scrape) {
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> helps = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (String line : scrape.split("\n")) {
            Matcher m;
            if ((m = TYPE.matcher(line)).matches()) {
                types.put(m.group(1), m.group(2));
            } else if ((m = HELP.matcher(line)).matches()) {
                helps.put(m.group(1), m.group(2) == null ? "" : m.group(2).strip());
            } else if (!line.startsWith("#") && (m = SAMPLE.matcher(line)).matches() && m.group(2) != null) {
                Matcher label = LABEL.matcher(m.group(2));
                while (label.find()) {
                    if (!label.group(1).equals(label.group(1).toLowerCase())) {
                        problems.add(m.group(1) + " label names should be written in 'snake_case' not 'camelCase': "
                                + label.group(1));
                    }
                }
            }
        }
        types.forEach((name, type) -> {
            if (helps.getOrDefault(name, "").isEmpty()) {
                problems.add(name + " no help text");
            }
            boolean histogramLike = type.equals("histogram") || type.equals("summary");
            if (type.equals("gauge") && helps.getOrDefault(name, "").contains("since start")) {
                problems.add(name + " counts since start but is a gauge: a count that only goes up is a counter");
            }
            if (type.equals("counter") && !name.endsWith("_total")) {
                problems.add(name + " counter metrics should have \"_total\" suffix");
            }
            if (!type.equals("counter") && name.endsWith("_total")) {
                problems.add(name + " non-counter metrics should not have \"_total\" suffix");
            }
            if (!histogramLike && (name.endsWith("_count") || name.endsWith("_sum") || name.endsWith("_bucket"))) {
                problems.add(name + " non-histogram and non-summary metrics should not have \""
                        + name.substring(name.lastIndexOf('_')) + "\" suffix");
            }
            for (String token : name.split("_")) {
                if (ABBREVIATED.contains(token)) {
                    problems.add(name + " metric names should not contain abbreviated units");
                }
                if (NON_BASE.containsKey(token)) {
                    problems.add(name + " use base unit \"" + NON_BASE.get(token) + "\" instead of \"" + token + "\"");
                }
                if (TYPE_WORDS.contains(token)) {
                    problems.add(name + " metric name should not include type '" + token + "'");
                }
            }
            if (!name.equals(name.toLowerCase())) {
                problems.add(name + " metric names should be written in 'snake_case' not 'camelCase'");
            }
            if (name.contains(":")) {
                problems.add(name + " metric names should not contain ':'");
            }
        });
        return problems;
    }
}
