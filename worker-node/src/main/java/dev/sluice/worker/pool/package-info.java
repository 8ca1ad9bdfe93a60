/**
 * Redis connections: the bounded pool, its pressure monitor, dedicated connections, and Redis's refusals (full,
 * read-only).
 *
 * <p>Depends on {@code common}, {@code control} (client settings) and Jedis.
 */
package dev.sluice.worker.pool;
