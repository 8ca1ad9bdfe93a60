/**
 * Consuming the nodes' events from Kafka into the cluster state, surviving a broker outage and malformed events.
 *
 * <p>Depends on {@code state}, {@code common.health} and Kafka.
 */
package dev.sluice.coordinator.ingest;
