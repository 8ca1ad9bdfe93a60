/**
 * The fleet-wide limiter: a permit table and a Bucket4j rate bucket in Hazelcast, shares and timed tokens, and the
 * store-failure policy.
 *
 * <p>Depends on {@code limits}, {@code cluster}, {@code limits.fleet.grant}, Hazelcast and Bucket4j.
 */
package dev.sluice.worker.limits.fleet;
