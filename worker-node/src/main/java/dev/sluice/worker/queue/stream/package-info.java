/**
 * The stream adapter: jobs in a Redis stream read by a consumer group, pending entries reclaimed after the visibility
 * timeout.
 *
 * <p>Depends on {@code queue}, {@code queue.redis}, {@code pool}, {@code control} and {@code common}.
 */
package dev.sluice.worker.queue.stream;
