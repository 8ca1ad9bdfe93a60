/**
 * Watching the node's own loops (fetcher, completer, writers): stalls and fatal errors for the liveness check.
 *
 * <p>Depends on nothing of Sluice.
 */
package dev.sluice.worker.health;
