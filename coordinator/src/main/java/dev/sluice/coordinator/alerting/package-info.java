/**
 * The alert engine and rules: pending, firing, resolved, deduplicated by fingerprint, with inhibitions.
 *
 * <p>Depends on {@code state}; pure of I/O.
 */
package dev.sluice.coordinator.alerting;
