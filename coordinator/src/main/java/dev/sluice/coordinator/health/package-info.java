/**
 * Watching the coordinator's own loops for the liveness check.
 *
 * <p>Depends on nothing of Sluice.
 */
package dev.sluice.coordinator.health;
