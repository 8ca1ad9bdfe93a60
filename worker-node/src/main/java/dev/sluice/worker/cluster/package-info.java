/**
 * The embedded Hazelcast member: joining, the majority rule, and signed fleet control messages.
 *
 * <p>Depends on {@code common.config} and Hazelcast.
 */
package dev.sluice.worker.cluster;
