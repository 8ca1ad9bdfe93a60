package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.coordinator.state.ClusterSnapshot;

import java.time.Duration;
import java.util.List;

/** A condition over the cluster state that, held for its for-duration, fires an alert. */
public interface AlertRule {

    /** Its settings: name, threshold, for-duration, severity, extra labels. */
    AlertsConfig.Rule settings();

    /** The {@code alertname} label of its alerts. */
    String alertname();

    /** The instances for which the condition holds now; empty when none does. */
    List<Condition> evaluate(ClusterSnapshot cluster);

    default String name() {
        return settings().name();
    }

    default Duration forDuration() {
        return Duration.ofSeconds(settings().forSecs());
    }
}
