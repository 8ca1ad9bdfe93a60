/**
 * The read-only HTTP feeds: the cluster, the alerts and their server-sent event stream.
 *
 * <p>Depends on {@code state}, {@code alerting} and {@code admin}.
 */
package dev.sluice.coordinator.feed;
