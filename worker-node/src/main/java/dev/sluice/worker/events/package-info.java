/**
 * Publishing the node's events to Kafka (heartbeats, breaker, pool pressure, limiter, pause), saying an outage once.
 *
 * <p>Depends on {@code common.event} and the parts it samples.
 */
package dev.sluice.worker.events;
