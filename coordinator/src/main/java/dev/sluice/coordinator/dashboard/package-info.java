/**
 * The dashboard: its snapshot and stream, the why line, backfill progress, and the operators' operations through the
 * fleet's record in Redis.
 *
 * <p>Depends on {@code control}, {@code state}, {@code feed} and {@code admin}.
 */
package dev.sluice.coordinator.dashboard;
