/**
 * Sending alerts to an Alertmanager-compatible webhook, with re-sends and backoff.
 *
 * <p>Depends on {@code alerting} and {@code common.health}.
 */
package dev.sluice.coordinator.webhook;
