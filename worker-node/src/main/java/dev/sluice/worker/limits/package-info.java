/**
 * The Hub limiter port ({@code HubLimiter}: a permit and a token per Hub call), its listener, and the one-node
 * implementation.
 *
 * <p>Depends on nothing of Sluice.
 */
package dev.sluice.worker.limits;
