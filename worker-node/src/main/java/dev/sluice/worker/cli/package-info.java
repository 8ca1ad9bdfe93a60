/**
 * The {@code sluice} command line: worker, enqueue, queue stats, dead letters, limits, pause and resume.
 *
 * <p>Depends on the worker's packages and {@code control}; nothing depends on it.
 */
package dev.sluice.worker.cli;
