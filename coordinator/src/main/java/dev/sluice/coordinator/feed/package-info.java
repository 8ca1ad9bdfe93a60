/**
 * The read-only HTTP feeds: the cluster, the alerts and their server-sent event stream.
 *
 * <p>Depends on {@code state}, {@code alerting} and the shared admin HTTP layer ({@code dev.sluice.adminhttp}).
 */
package dev.sluice.coordinator.feed;
