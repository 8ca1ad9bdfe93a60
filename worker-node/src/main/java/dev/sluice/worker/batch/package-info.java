/**
 * The node's one batching writer: {@link dev.sluice.worker.batch.BatchWriter}, a single thread that applies the
 * requests of many threads in batches (the completer's completions, the Redis sink's writes, the fleet limiter's
 * store calls).
 *
 * <p>Depends on {@code common.health} only (its loop is watched).
 */
package dev.sluice.worker.batch;
