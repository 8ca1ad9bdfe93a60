/**
 * The result sink port and its adapters (a Redis hash per job, a Kafka record per job), bounded by {@code
 * sink.max_concurrent_writes}; {@code ResultSinks} picks one.
 *
 * <p>Depends on {@code pool}, {@code common.health} and the clients.
 */
package dev.sluice.worker.sink;
