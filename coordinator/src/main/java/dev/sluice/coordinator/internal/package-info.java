/**
 * Small helpers of the coordinator (log throttling).
 *
 * <p>Depends on nothing of Sluice.
 */
package dev.sluice.coordinator.internal;
