/**
 * The Hub client: HTTP with bounded answers, a Resilience4j breaker, the limiter's permit around each request, and
 * what a failed call is.
 *
 * <p>Depends on {@code limits} and {@code common}.
 */
package dev.sluice.worker.hub;
