/**
 * Benchmarks run by {@code benchmarks/*.sh}, never by the tests.
 *
 * <p>May depend on anything.
 */
package dev.sluice.bench;
