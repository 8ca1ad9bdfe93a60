package dev.sluice.worker.limits.fleet.grant;

/**
 * The fleet's grantor lease as Redis showed it at one read: who holds it ({@code holder}, a node incarnation, and
 * the Hazelcast member it runs as now), under which {@code term} (a random id, never reused), how often it was
 * written ({@code seq}: every renewal, take and end raises it by one, across terms, so it only grows unless Redis lost
 * writes; a reader that sees it not grow while the record changed knows Redis went back), whether the holder may grant
 * yet ({@code ready}: false while a new holder waits out what an earlier one may have granted) and whether the
 * holder gave it up ({@code ended}: a graceful stop, after which nothing it granted is still running).
 * {@link #ABSENT} when there is no record.
 */
public record Arbitration(String term, long seq, String holder, String member, String node, boolean ready,
                          boolean ended) {

    public static final Arbitration ABSENT = new Arbitration("", 0, "", "", "", false, false);

    public boolean absent() {
        return term.isEmpty();
    }

    /** Held by {@code incarnation} under {@code myTerm}. */
    public boolean heldBy(String incarnation, String myTerm) {
        return !absent() && !ended && holder.equals(incarnation) && term.equals(myTerm);
    }

    /** The same renewal of the same term as {@code other}: nothing moved between the two reads. */
    public boolean sameAs(Arbitration other) {
        return other != null && term.equals(other.term) && seq == other.seq && ended == other.ended
                && ready == other.ready;
    }

    @Override
    public String toString() {
        return absent() ? "no grantor lease" : "grantor lease " + term + "#" + seq + " of node " + node + " (" + holder
                + (ended ? ", ended" : ready ? "" : ", waiting") + ")";
    }
}
