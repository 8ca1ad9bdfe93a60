/**
 * The versioned events nodes publish and the coordinator consumes (heartbeats, breaker and limiter states, pause and
 * limits changes, operator actions), and their codec.
 *
 * <p>Depends on Jackson only: no Kafka type, so producers and consumers choose their own clients.
 */
@NullMarked
package dev.sluice.common.event;

import org.jspecify.annotations.NullMarked;
