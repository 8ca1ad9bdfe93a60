/**
 * The compacted alerts topic: where alerts are published and rebuilt from after a restart.
 *
 * <p>Depends on {@code alerting} and Kafka.
 */
package dev.sluice.coordinator.store;
