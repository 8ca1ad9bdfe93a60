/**
 * The job handler port ({@code JobHandler}, found by ServiceLoader) and the built-in handlers.
 *
 * <p>Depends on {@code common.job} and the Hub client a handler calls.
 */
package dev.sluice.worker.handler;
