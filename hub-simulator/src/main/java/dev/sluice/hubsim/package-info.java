/**
 * The Hub simulator: an HTTP server that enforces and counts the Hub's limits (requests per sliding second,
 * concurrent requests), with outages, latency and 429s on demand.
 *
 * <p>Depends on the JDK's HTTP server, picocli and SLF4J; nothing of Sluice.
 */
package dev.sluice.hubsim;
