/**
 * Running jobs: the fetcher and job slots ({@code Worker}), the error policy ({@code RetryPolicy}, pure), backoff,
 * the single-writer completer, and the maintenance thread.
 *
 * <p>Depends on the ports it drives ({@code queue}, {@code handler}, {@code sink}, {@code hub}) and {@code common.health};
 * never on an adapter's concrete class.
 */
package dev.sluice.worker.exec;
