/**
 * The list adapter: jobs in a Redis list moved into each node's processing list, a dead node's list moved back once
 * its liveness record stood still for a lease.
 *
 * <p>Depends on {@code queue}, {@code queue.redis}, {@code identity}, {@code pool}, {@code control} and
 * {@code common}.
 */
package dev.sluice.worker.queue.list;
