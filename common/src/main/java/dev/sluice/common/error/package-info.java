/**
 * The one error taxonomy ({@link dev.sluice.common.error.ErrorKind}) and the exception that carries a kind.
 *
 * <p>Depends on nothing of Sluice. Its classifier still recognises client exceptions (Jedis, Kafka) after the fact;
 * the structure step moves that into the adapters.
 */
package dev.sluice.common.error;
