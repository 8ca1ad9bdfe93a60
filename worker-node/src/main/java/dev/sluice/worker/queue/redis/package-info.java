/**
 * What the two Redis queue adapters share, written once: {@code RedisJobQueue} (their collaborators, the dead-letter
 * port, promotion of due retries, the pipelined completion of a batch), the Lua scripts that make each completion
 * atomic with its acknowledgement ({@code Scripts}), dead-letter fields, the fetcher's connection, the bounded reading
 * of raw entries and the reading of pipelined replies.
 *
 * <p>Depends on {@code queue}, {@code pool}, {@code control} and {@code common}.
 */
package dev.sluice.worker.queue.redis;
