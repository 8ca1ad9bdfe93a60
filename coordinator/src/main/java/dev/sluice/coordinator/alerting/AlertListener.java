package dev.sluice.coordinator.alerting;

import java.util.List;

/**
 * Receives what the {@link AlertEngine} decides. Called on the evaluating thread, in order: implementations hand
 * slow work (network) to their own threads.
 */
public interface AlertListener {

    /** The transitions of one evaluation, never empty. */
    void onTransitions(List<AlertTransition> transitions);

    /** A resolved alert outlived its retention and is forgotten (no newer alert has its fingerprint). */
    default void onExpired(Alert alert) {
    }
}
