package dev.sluice.worker.queue;

import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * The consumer side of the queue, as a worker node drives it: fetch, take over from nodes that are gone, complete,
 * keep alive, promote due retries.
 *
 * <p>{@link #fetch}, {@link #reclaim}, {@link #reclaimFrom} and {@link #promoteDue} run on the queue's own
 * dedicated connection, from the node's single fetcher thread; everything else borrows from the shared pool one
 * call at a time, so the node's connection count does not depend on its job concurrency.
 */
public interface JobConsumer {

    /** Prepares Redis (consumer group, registrations). Idempotent. */
    void start();

    /** Up to {@code max} new jobs, blocking up to {@code block} when none is waiting. */
    List<Delivery> fetch(int max, Duration block);

    /**
     * Takes over up to {@code max} jobs left in flight by nodes that are gone, for this node to run, with their
     * delivery counts raised (the worker dead-letters those past {@code queue.max_deliveries} as poison). An adapter
     * may instead put them back on the queue and return none. How it tells a node gone is its own: stream mode by
     * entries idle past the visibility timeout (a live node keeps its own fresh), list mode by the node's liveness
     * record standing still for a lease.
     */
    List<Delivery> reclaim(int max);

    /**
     * Takes over, at once, up to {@code max} jobs that node {@code deadNodeId} left in flight: called when the
     * cluster reports that node gone, without waiting for the visibility timeout. Each job goes to exactly one
     * caller however many nodes ask at the same time. Returns the jobs for this node to run, with their delivery
     * counts raised; an adapter may instead put them back on the queue and return none. Fewer than {@code max}
     * returned means nothing of that node is left.
     *
     * <p>Runs on the queue's dedicated connection, from the fetcher thread.
     */
    List<Delivery> reclaimFrom(String deadNodeId, int max);

    /**
     * Applies a batch of completions in one round trip where possible, reading every reply. Returns those Redis
     * refused (full, read-only, wrong type ...): nothing of them was applied, their jobs stay pending, and they may
     * be applied again later. Failures of the connection itself are thrown.
     */
    List<Refused> complete(List<Completion> batch);

    /**
     * Tells the queue these deliveries are still being worked on, so no other node takes them (list mode goes by the
     * node's liveness record instead, and only registers the node again here).
     */
    void keepAlive(Collection<Delivery> inFlight);

    /**
     * Moves up to {@code max} retries whose time has come back to the queue; returns how many. Safe from any
     * number of nodes. Runs on the queue's dedicated connection, from the fetcher thread.
     */
    int promoteDue(int max);

    /**
     * Puts back on the queue what an earlier process under this node id left in flight and no mechanism of the
     * adapter would reclaim while this node lives (list mode's processing list); returns how many. Called once the
     * node holds its id. Stream mode needs nothing: a crashed consumer's entries go idle and are claimed.
     */
    default int recoverOwnLeftovers() {
        return 0;
    }

    /**
     * Entries dead-lettered inside Redis, unread, by the scripts that hand entries to this node (too large, too
     * many fields, not UTF-8), since start.
     */
    default long buriedUnread() {
        return 0;
    }

    /**
     * The adapter's own housekeeping, called every few minutes from the maintenance thread: stream mode removes
     * consumers that hold nothing and have been idle for {@code idle}. Nothing by default.
     */
    default void tidy(Duration idle) {
    }
}
