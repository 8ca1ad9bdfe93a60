package dev.sluice.worker.limits.fleet;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The permit table's rules on a fake clock: each call passes the owner's time explicitly. */
class PermitTableTest {
    private static final long LEASE = 6_000;
    private static final long TTL = 1_000;

    private final PermitTable table = new PermitTable();

    private PermitTable.Reply acquire(String id, long now) {
        return table.acquire(id, id.substring(0, 1), 2, LEASE, TTL, now);
    }

    @Test
    void grantsUpToTheLimitThenQueuesWaitersInArrivalOrder() {
        assertThat(acquire("a1", 0).state()).isEqualTo(PermitTable.State.GRANTED);
        assertThat(acquire("b1", 0).state()).isEqualTo(PermitTable.State.GRANTED);
        PermitTable.Reply c = acquire("c1", 10);
        PermitTable.Reply d = acquire("d1", 20);
        assertThat(c.state()).isEqualTo(PermitTable.State.WAIT);
        assertThat(c.position()).isZero();
        assertThat(d.position()).isEqualTo(1);
        assertThat(c.millis()).as("hint: until the first lease ends").isEqualTo(LEASE - 10);

        assertThat(table.release("a1", 2, 100)).containsExactly("c1");
        assertThat(acquire("d1", 110).state()).as("not d's turn while c waits").isEqualTo(PermitTable.State.WAIT);
        assertThat(acquire("e1", 110).state()).as("a newcomer queues behind them").isEqualTo(PermitTable.State.WAIT);
        assertThat(acquire("c1", 120).state()).isEqualTo(PermitTable.State.GRANTED);
        assertThat(table.leases()).extracting(PermitTable.Lease::id).containsExactly("b1", "c1");
    }

    @Test
    void leaseEndsAtItsEndAndNotBeforeWhateverBecameOfItsHolder() {
        acquire("a1", 0);
        acquire("a2", 0);
        assertThat(acquire("b1", LEASE - 1).state()).isEqualTo(PermitTable.State.WAIT);
        assertThat(table.leases()).hasSize(2);
        assertThat(acquire("b1", LEASE).state()).isEqualTo(PermitTable.State.GRANTED);
        assertThat(table.leases()).extracting(PermitTable.Lease::id).containsExactly("b1");
    }

    @Test
    void renewStartsTheLeaseAgainAndReportsAPauseThatBeganMeanwhile() {
        acquire("a1", 0);
        PermitTable.Reply renewed = table.renew("a1", LEASE, 4_000);
        assertThat(renewed.state()).isEqualTo(PermitTable.State.RENEWED);
        assertThat(renewed.millis()).isEqualTo(4_000 + LEASE);
        assertThat(renewed.pauseMs()).isZero();
        table.pauseUntil(5_000);
        assertThat(table.renew("a1", LEASE, 4_500).pauseMs()).isEqualTo(500);
        assertThat(table.renew("gone", LEASE, 4_500).state()).isEqualTo(PermitTable.State.LOST);
    }

    @Test
    void pauseGrantsNothingUntilItEndsAndALongerPauseWins() {
        table.pauseUntil(2_000);
        table.pauseUntil(1_000);
        PermitTable.Reply paused = acquire("a1", 500);
        assertThat(paused.state()).isEqualTo(PermitTable.State.PAUSED);
        assertThat(paused.millis()).isEqualTo(1_500);
        assertThat(acquire("a1", 2_000).state()).isEqualTo(PermitTable.State.GRANTED);
    }

    @Test
    void ticketNobodyRenewsExpiresSoItNeverBlocksTheQueue() {
        acquire("a1", 0);
        acquire("a2", 0);
        acquire("x1", 0); // its waiter dies
        acquire("b1", 500);
        table.release("a1", 2, 600);
        assertThat(acquire("b1", 700).state()).as("x1 is still first").isEqualTo(PermitTable.State.WAIT);
        assertThat(acquire("b1", TTL).state()).as("x1's ticket has expired").isEqualTo(PermitTable.State.GRANTED);
    }

    @Test
    void acquiringTwiceWithOneIdHoldsOnePermit() {
        assertThat(acquire("a1", 0).state()).isEqualTo(PermitTable.State.GRANTED);
        assertThat(acquire("a1", 5).state()).isEqualTo(PermitTable.State.GRANTED);
        assertThat(table.leases()).hasSize(1);
    }

    @Test
    void cancelledWaiterLeavesTheQueue() {
        acquire("a1", 0);
        acquire("a2", 0);
        acquire("c1", 0);
        acquire("d1", 0);
        assertThat(table.cancel("c1")).isTrue();
        assertThat(table.release("a1", 2, 10)).containsExactly("d1");
    }

    @Test
    void survivesItsEncodingAndRefusesAnotherSchemaVersion() {
        acquire("a1", 0);
        acquire("b1", 1);
        acquire("c1", 2);
        table.pauseUntil(99);
        table.limit(7, 3);
        PermitTable copy = PermitTable.decode(table.encode());
        assertThat(copy.leases()).isEqualTo(table.leases());
        assertThat(copy.tickets()).isEqualTo(table.tickets());
        assertThat(copy.pausedUntilMs()).isEqualTo(99);
        assertThat(copy.limitsVersion()).isEqualTo(7);
        assertThat(copy.limit(0, 50)).as("the versioned limit survives; an unversioned caller does not change it")
                .isEqualTo(3);

        byte[] future = table.encode();
        future[0] = 3;
        assertThatThrownBy(() -> PermitTable.decode(future)).hasMessageContaining("schema version 3");
    }

    @Test
    void keepsTheInFlightLimitOfTheNewestVersionItWasToldOf() {
        assertThat(table.limit(0, 5)).as("no version yet: the caller's").isEqualTo(5);
        assertThat(table.limit(0, 6)).isEqualTo(6);
        assertThat(table.limit(10, 4)).as("a version outranks none").isEqualTo(4);
        assertThat(table.limit(9, 40)).as("a node that has not heard of version 10 does not grant by its old limit")
                .isEqualTo(4);
        assertThat(table.limit(0, 40)).isEqualTo(4);
        assertThat(table.limit(11, 1)).isEqualTo(1);
        // Lowered below the permits held: nothing is granted until fewer than the new limit run.
        PermitTable t = new PermitTable();
        int limit = t.limit(1, 3);
        for (int i = 0; i < 3; i++) {
            assertThat(t.acquire("a" + i, "a", limit, LEASE, TTL, 0).state()).isEqualTo(PermitTable.State.GRANTED);
        }
        limit = t.limit(2, 2);
        assertThat(t.acquire("b1", "b", limit, LEASE, TTL, 1).state()).isEqualTo(PermitTable.State.WAIT);
        t.release("a0", limit, 2);
        assertThat(t.acquire("b1", "b", limit, LEASE, TTL, 3).state()).as("still 2 run").isEqualTo(PermitTable.State.WAIT);
        t.release("a1", limit, 4);
        assertThat(t.acquire("b1", "b", limit, LEASE, TTL, 5).state()).isEqualTo(PermitTable.State.GRANTED);
    }

    @Test
    void readsATableOfSchemaVersionOneAsUnversioned() throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            out.writeByte(1);
            out.writeLong(42);
            out.writeInt(1);
            out.writeUTF("a1");
            out.writeUTF("a");
            out.writeLong(6_000);
            out.writeInt(0);
        }
        PermitTable old = PermitTable.decode(bytes.toByteArray());
        assertThat(old.pausedUntilMs()).isEqualTo(42);
        assertThat(old.leases()).hasSize(1);
        assertThat(old.limitsVersion()).isZero();
    }

    @Test
    void neverMoreHoldersThanTheLimitUnderARandomSchedule() {
        java.util.Random random = new java.util.Random(42);
        List<String> holding = new ArrayList<>();
        long now = 0;
        for (int step = 0; step < 20_000; step++) {
            now += random.nextInt(50);
            String id = "n" + random.nextInt(12);
            if (holding.contains(id) && random.nextBoolean()) {
                table.release(id, 2, now);
                holding.remove(id);
            } else {
                table.acquire(id, "n", 2, LEASE, TTL, now);
            }
            table.expire(now);
            holding.retainAll(table.leases().stream().map(PermitTable.Lease::id).toList());
            table.leases().forEach(l -> {
                if (!holding.contains(l.id())) {
                    holding.add(l.id());
                }
            });
            assertThat(table.leases()).hasSizeLessThanOrEqualTo(2);
        }
    }
}
