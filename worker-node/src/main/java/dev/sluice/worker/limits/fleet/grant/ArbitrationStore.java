package dev.sluice.worker.limits.fleet.grant;

/** Where the grantor lease is kept: every call is one atomic step on the record, answered with what it shows after. */
public interface ArbitrationStore {

    /** The record as it is. */
    Arbitration read();

    /**
     * Raises {@code seq} by one if {@code incarnation} holds the record under {@code term} at {@code expectedSeq}
     * (its own last renewal: a record Redis restored to an older count is left alone); says whether it may grant.
     */
    Arbitration renew(String incarnation, String term, long expectedSeq, String member, boolean ready);

    /**
     * Takes the record for {@code incarnation} under {@code newTerm} if it still is exactly {@code expected} (absent,
     * ended, or the same term and seq): a compare-and-set, so of two nodes that saw the same record one wins.
     */
    Arbitration take(Arbitration expected, String incarnation, String member, String node, String newTerm);

    /** Marks the record ended if {@code incarnation} holds it under {@code term} (a graceful stop). */
    Arbitration end(String incarnation, String term);
}
