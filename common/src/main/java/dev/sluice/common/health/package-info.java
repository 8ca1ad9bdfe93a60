/**
 * Watching a process's own long-lived loops, the worker node's (fetcher, completer, writers) and the coordinator's
 * (events consumer, evaluator, webhook sender): stalls, dead loops and fatal errors for the liveness check.
 *
 * <p>Depends on the JDK and SLF4J only.
 */
@NullMarked
package dev.sluice.common.health;

import org.jspecify.annotations.NullMarked;
