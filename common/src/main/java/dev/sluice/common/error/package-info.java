/**
 * The one error taxonomy ({@link dev.sluice.common.error.ErrorKind}), the exception that carries a kind, and the
 * classifier that reads a kind off a cause chain.
 *
 * <p>Depends on nothing of Sluice and on no client library: each adapter gives its client's failures their kind
 * where they happen ({@code RedisErrors}, {@code HubErrors}, the Kafka sink), and {@code common/pom.xml} has no
 * Redis, Kafka or HTTP client.
 */
@NullMarked
package dev.sluice.common.error;

import org.jspecify.annotations.NullMarked;
