package dev.sluice.coordinator.alerting;

import java.time.Instant;

/**
 * An alert changed state.
 *
 * @param alert  the alert after the change
 * @param from   its state before (null for a new alert)
 * @param to     its state now; {@link AlertState#INACTIVE} for a pending alert that went away
 * @param at     the evaluation's time
 */
public record AlertTransition(Alert alert, AlertState from, AlertState to, Instant at) {
}
