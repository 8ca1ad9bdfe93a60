/**
 * The job queue's ports: {@code JobConsumer} (fetch, reclaim, complete, keep alive, promote), {@code JobProducer}
 * (enqueue) and {@code DeadLetterQueue} (list, replay, trim), joined as {@code JobQueue}, and the values they carry.
 * The Redis adapters are in {@code queue.stream} and {@code queue.list}, on what they share in {@code queue.redis};
 * {@code dev.sluice.worker.JobQueues} picks one by {@code queue.mode}.
 *
 * <p>Depends on {@code pool} (a refusal's type), {@code control} (a dead letter's entry) and {@code common}.
 */
package dev.sluice.worker.queue;
