/**
 * Who may grant fleet permits: a lease in Redis held by one member of the majority, so a split fleet never grants
 * twice.
 *
 * <p>Depends on {@code cluster} and {@code pool}.
 */
package dev.sluice.worker.limits.fleet.grant;
