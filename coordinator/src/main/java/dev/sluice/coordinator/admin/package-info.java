/**
 * The coordinator's HTTP server: routes, tokens, Host and cross-site checks, JSON answers.
 *
 * <p>Depends on {@code common.config} and the JDK HTTP server only.
 */
package dev.sluice.coordinator.admin;
