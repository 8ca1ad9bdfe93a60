package dev.sluice.coordinator.alerting;

import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One alert as it stands: immutable. Identified by its {@link #fingerprint()}, which is derived from its rule and
 * labels only, so the same problem on the same node is always the same alert.
 *
 * @param fingerprint  {@link Fingerprint#of(String, Map)} of rule and labels
 * @param rule         the rule that raised it ({@code pool_usage}, ...)
 * @param labels       {@code alertname}, {@code severity}, the instance's labels ({@code node}, {@code breaker}) and
 *                     the rule's extra labels; sorted
 * @param annotations  {@code summary} and {@code description}
 * @param state        pending, firing or resolved
 * @param activeAt     since when its condition has held
 * @param startsAt     when it fired; null while pending
 * @param endsAt       when it resolved; null unless resolved
 * @param value        the measured value behind it (a fraction, a count, seconds), for display
 * @param updatedAt    the evaluation that last changed it
 */
public record Alert(String fingerprint, String rule, SortedMap<String, String> labels, Map<String, String> annotations,
                    AlertState state, Instant activeAt, Instant startsAt, Instant endsAt, double value,
                    Instant updatedAt) {

    public Alert {
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(rule, "rule");
        Objects.requireNonNull(state, "state");
        labels = Collections.unmodifiableSortedMap(new TreeMap<>(labels));
        annotations = Collections.unmodifiableMap(new TreeMap<>(annotations));
    }

    public String alertname() {
        return labels.get("alertname");
    }

    public String severity() {
        return labels.get("severity");
    }

    Alert with(AlertState newState, Instant newStartsAt, Instant newEndsAt, Instant at) {
        return new Alert(fingerprint, rule, labels, annotations, newState, activeAt, newStartsAt, newEndsAt, value, at);
    }
}
