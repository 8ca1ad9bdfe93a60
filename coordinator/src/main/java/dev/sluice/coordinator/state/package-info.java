/**
 * The fleet as the events describe it: nodes, pools, breakers, limiters, the queue, rates from monotonic counters.
 *
 * <p>Depends on {@code common.event}; pure of I/O.
 */
package dev.sluice.coordinator.state;
