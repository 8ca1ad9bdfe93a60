/**
 * The node's admin HTTP server: status, health, metrics, live limits.
 *
 * <p>Depends on the status it shows; it reads {@code WorkerNode} today (the structure step gives it a narrow status
 * interface).
 */
package dev.sluice.worker.admin;
