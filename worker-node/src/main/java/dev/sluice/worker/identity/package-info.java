/**
 * A node's identity and liveness: its record in Redis (renewed on its own connection), watching other nodes'
 * records, and vetting cluster members against them.
 *
 * <p>Depends on {@code pool} and Hazelcast's member types.
 */
package dev.sluice.worker.identity;
