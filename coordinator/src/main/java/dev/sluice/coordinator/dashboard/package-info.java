/**
 * The dashboard: its snapshot and stream, the why line, backfill progress, and the operators' operations through the
 * fleet's record in Redis.
 *
 * <p>Depends on {@code control}, {@code state}, {@code feed} and the shared admin HTTP layer ({@code dev.sluice.adminhttp}).
 */
package dev.sluice.coordinator.dashboard;
