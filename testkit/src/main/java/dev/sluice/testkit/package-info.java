/**
 * Real servers for tests: redis-server, a Kafka broker, Hazelcast members, processes, and the helpers that start and
 * close them.
 *
 * <p>Test scope only; depends on the servers' own libraries, never on Sluice's main code.
 */
package dev.sluice.testkit;
