/**
 * The job queue port ({@code JobQueue}) and its two Redis adapters (stream, list), their Lua scripts, dead letters
 * and backfill counts; {@code JobQueues} picks one.
 *
 * <p>Depends on {@code pool}, {@code identity}, {@code control} and {@code common}.
 */
package dev.sluice.worker.queue;
