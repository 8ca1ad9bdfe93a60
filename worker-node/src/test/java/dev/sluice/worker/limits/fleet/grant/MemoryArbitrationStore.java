package dev.sluice.worker.limits.fleet.grant;

/**
 * The grantor record's compare-and-set semantics in memory, for the fake-clock tests of {@link GrantorLease}
 * (the Redis script itself is tested on a real server in {@link RedisArbitrationStoreTest}). A store can be made to
 * fail, as an unreachable Redis, to lose its answers (a call runs, its caller hears nothing), and to lose its data.
 */
final class MemoryArbitrationStore implements ArbitrationStore {
    private Arbitration record = Arbitration.ABSENT;
    boolean down;
    boolean loseAnswers;

    @Override
    public synchronized Arbitration read() {
        check();
        return answer();
    }

    @Override
    public synchronized Arbitration renew(String incarnation, String term, long expectedSeq, String member, boolean ready) {
        check();
        if (!record.absent() && record.term().equals(term) && record.holder().equals(incarnation) && !record.ended()
                && record.seq() == expectedSeq) {
            record = new Arbitration(term, record.seq() + 1, incarnation, member, record.node(), ready, false);
        }
        return answer();
    }

    @Override
    public synchronized Arbitration take(Arbitration expected, String incarnation, String member, String node,
                                         String newTerm) {
        check();
        boolean matches = expected.absent() ? record.absent()
                : record.term().equals(expected.term()) && record.seq() == expected.seq();
        if (matches) {
            record = new Arbitration(newTerm, record.seq() + 1, incarnation, member, node, false, false);
        }
        return answer();
    }

    @Override
    public synchronized Arbitration end(String incarnation, String term) {
        check();
        if (!record.absent() && record.term().equals(term) && record.holder().equals(incarnation) && !record.ended()) {
            record = new Arbitration(term, record.seq() + 1, incarnation, record.member(), record.node(), record.ready(), true);
        }
        return answer();
    }

    synchronized void lose() {
        record = Arbitration.ABSENT;
    }

    synchronized void restore(Arbitration older) {
        record = older;
    }

    synchronized Arbitration peek() {
        return record;
    }

    private Arbitration answer() {
        if (loseAnswers) {
            throw new IllegalStateException("the call ran in the store, its answer was lost");
        }
        return record;
    }

    private void check() {
        if (down) {
            throw new IllegalStateException("store unreachable");
        }
    }
}
