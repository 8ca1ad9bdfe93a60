/**
 * What the worker, its CLI and the coordinator share about the fleet in Redis: the fleet record (live limits, pause,
 * audit), the dead-letter store, backfills, and Redis client settings.
 *
 * <p>Depends on {@code common} and Jedis; never on a worker or coordinator package.
 */
package dev.sluice.control;
