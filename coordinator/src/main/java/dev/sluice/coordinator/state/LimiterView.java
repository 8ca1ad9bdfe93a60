package dev.sluice.coordinator.state;

import java.time.Instant;

/**
 * A node's fleet limiter as last reported.
 *
 * @param degraded  true while it runs on its store-failure policy instead of the shared store
 * @param state     the state as reported ({@code ok}, or what the node says instead)
 * @param reason    why, when degraded
 * @param policy    the store-failure policy in force, when known
 * @param since     when it entered this state
 */
public record LimiterView(boolean degraded, String state, String reason, String policy, Instant since) {
}
