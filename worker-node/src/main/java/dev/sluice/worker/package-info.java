/**
 * The node's composition root: {@code Main} reads the configuration, {@code WorkerNode} wires the queue, limiter,
 * Hub client, sink, worker, events and admin server, and starts and stops them in order.
 *
 * <p>May depend on every worker package; none of them depends on it except {@code admin} and {@code cli}, which the
 * structure step narrows.
 */
package dev.sluice.worker;
