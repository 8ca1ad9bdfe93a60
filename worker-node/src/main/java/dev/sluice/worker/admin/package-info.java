/**
 * The node's admin HTTP server: status, health, metrics, live limits.
 *
 * <p>Depends on {@code common.config}, the shared admin HTTP layer ({@code dev.sluice.adminhttp}) and Micrometer; it reads the node only through
 * {@link dev.sluice.worker.admin.NodeStatusSource} and {@link dev.sluice.worker.admin.LimitsControl}, and imports
 * nothing of the composition root ({@code dev.sluice.worker}).
 */
package dev.sluice.worker.admin;
