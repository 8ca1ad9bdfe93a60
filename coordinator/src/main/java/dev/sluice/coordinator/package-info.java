/**
 * The coordinator's composition root: {@code Main} and {@code Coordinator} wire ingest, state, alerting, feeds, the
 * dashboard and the webhook.
 *
 * <p>May depend on every coordinator package.
 */
package dev.sluice.coordinator;
