package dev.sluice.coordinator.alerting;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * A rule's finding: its condition holds for one instance (a node, a breaker of a node, or the whole cluster).
 *
 * @param labels       the instance's labels ({@code node}, {@code breaker}); empty for cluster-wide rules
 * @param since        since when the condition has held, as far as the state tells (a sample's time, a breaker's
 *                     transition); null when only "now" is known
 * @param value        the measured value
 * @param summary      one line for the {@code summary} annotation
 * @param description  the figures behind it, for the {@code description} annotation
 */
public record Condition(Map<String, String> labels, Instant since, double value, String summary, String description) {

    public Condition {
        labels = Map.copyOf(labels);
        Objects.requireNonNull(summary, "summary");
        Objects.requireNonNull(description, "description");
    }
}
