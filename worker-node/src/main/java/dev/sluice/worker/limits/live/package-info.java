/**
 * Following the fleet's record in Redis: live limits and the pause, applied on every node within 2 s.
 *
 * <p>Depends on {@code control}, {@code limits.fleet} and {@code pool}.
 */
package dev.sluice.worker.limits.live;
