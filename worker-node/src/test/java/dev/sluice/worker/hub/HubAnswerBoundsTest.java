package dev.sluice.worker.hub;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.config.StoreFailurePolicy;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.HubStats;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.TestFleet;
import dev.sluice.worker.handler.HubFetchHandler;
import dev.sluice.worker.handler.JobContext;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.LocalHubLimiter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

/**
 * Hub answers bounded in size, in time and in number, against the Hub simulator over real HTTP: an oversized body
 * fails for good without entering the heap, a trickled body ends at the request timeout with its connection closed
 * before the permit's lease ends, and the node's body budget bounds the bodies in memory at once.
 */
class HubAnswerBoundsTest {
    private static final HubClient.StartSignal NO_SIGNAL = () -> { };
    private static final int MIB = 1024 * 1024;

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        BodyBudget.releaseHeldByCurrentThread();
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closed(T resource) {
        closing.add(resource);
        return resource;
    }

    private HubSimulator hub(HubSimulator.Builder builder) {
        return closed(builder.build().start());
    }

    private static SluiceConfig config(HubSimulator hub, String... overrides) {
        List<String> all = new ArrayList<>(List.of("hub.base_url", hub.baseUrl(), "breaker.open_secs", "1"));
        all.addAll(List.of(overrides));
        return TestConfigs.config("redis://127.0.0.1:1", all.toArray(String[]::new));
    }

    private HubClient client(SluiceConfig config, HubLimiter limiter, BodyBudget budget) {
        return closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC(), budget));
    }

    private HubClient client(HubSimulator hub, HubLimiter limiter, String... overrides) {
        SluiceConfig config = config(hub, overrides);
        return closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC()));
    }

    private static SluiceException fetchFails(HubClient client, String key) {
        SluiceException e = catchThrowableOfType(SluiceException.class, () -> client.fetch(key, NO_SIGNAL));
        assertThat(e).as("fetching %s fails", key).isNotNull();
        return e;
    }

    @Test
    void anAnswerOverTheBoundByContentLengthFailsForGoodWithoutReadingItsBody() {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(5_000_000));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub, limiter);

        SluiceException e = fetchFails(client, "big");

        assertThat(e.kind()).isEqualTo(ErrorKind.HUB_REJECTED);
        assertThat(e.kind().recoverable()).as("dead-lettered, not retried").isFalse();
        assertThat(e.attempted()).isTrue();
        assertThat(e.getMessage()).isEqualTo(
                "Hub answer for big is larger than hub.max_response_bytes (1048576): Content-Length 5000000");
        assertThat(client.counts().bodyBytesRead()).as("not a byte of the body read").isZero();
        assertThat(client.counts().bodiesTooLarge()).isEqualTo(1);
        assertThat(client.bodyBudget().reservedBytes()).as("its room given back").isZero();
        assertThat(limiter.keptUntilLeaseEnd).as("cut mid-answer: the Hub may still be sending").hasValue(1);
        assertThat(limiter.closed).hasValue(0);
        await().alias("the Hub saw the connection closed (not just half-closed)").atMost(Duration.ofMillis(1_000))
                .pollInterval(Duration.ofMillis(10)).until(() -> hub.stats().inFlight() == 0);

        for (int i = 0; i < 6; i++) {
            assertThat(fetchFails(client, "big-" + i).kind()).isEqualTo(ErrorKind.HUB_REJECTED);
        }
        assertThat(client.breakerState()).as("an oversized answer is not a Hub failure").isEqualTo(BreakerListener.State.CLOSED);
    }

    /**
     * A connection the JDK client closes while its selector holds it is only half-closed until the selector thread
     * next wakes, up to 3 s later on an idle client (in about a third of fresh clients' first requests here): the
     * Hub, still writing, would count the request in flight past a short lease. Ten fresh clients, ten full closes.
     */
    @Test
    void aRefusedAnswersConnectionIsClosedAtOnceNotLeftHalfClosed() throws Exception {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(50_000_000));
        SluiceConfig config = config(hub);
        for (int round = 0; round < 10; round++) {
            try (HubClient fresh = new HubClient(config.hub(), config.breaker(), new RecordingLimiter(), Clock.systemUTC())) {
                assertThat(fetchFails(fresh, "big-" + round).kind()).isEqualTo(ErrorKind.HUB_REJECTED);
                await().alias("round " + round + ": the Hub saw the connection closed").atMost(Duration.ofMillis(1_000))
                        .pollInterval(Duration.ofMillis(5)).until(() -> hub.stats().inFlight() == 0);
            }
        }
    }

    @Test
    void aChunkedAnswerOverTheBoundIsCutAtTheBoundAndItsConnectionClosed() {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(50_000_000).chunkedBodies(true));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub, limiter);

        SluiceException e = fetchFails(client, "endless");

        assertThat(e.kind()).isEqualTo(ErrorKind.HUB_REJECTED);
        assertThat(e.getMessage()).startsWith("Hub answer for endless is larger than hub.max_response_bytes (1048576): ")
                .contains("without a Content-Length");
        assertThat(client.counts().bodyBytesRead()).as("reading stopped at the bound (give or take one network read)")
                .isGreaterThan(MIB).isLessThan(MIB + 64 * 1024);
        assertThat(client.bodyBudget().peakBodies()).isEqualTo(1);
        assertThat(client.bodyBudget().reservedBytes()).isZero();
        assertThat(limiter.keptUntilLeaseEnd).hasValue(1);
        await().alias("the Hub saw the connection closed").atMost(Duration.ofMillis(1_000)).pollInterval(Duration.ofMillis(10))
                .until(() -> hub.stats().inFlight() == 0);
        assertThat(hub.stats().distinctKeys()).as("the Hub never finished the answer").isZero();
    }

    @Test
    void anAnswerOfExactlyTheBoundIsReadWholeAndKeepsOnlyItsOwnSizeOfRoom() {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(256 * 1024));
        BodyBudget budget = BodyBudget.ofBytes(2 * BodyBudget.heapCost(256 * 1024));
        HubClient client = client(config(hub, "hub.max_response_bytes", Integer.toString(256 * 1024)),
                new RecordingLimiter(), budget);

        assertThat(client.fetch("k1", NO_SIGNAL)).hasSize(256 * 1024);
        assertThat(budget.reservedBytes()).as("held while the job has the body, charged twice its size")
                .isEqualTo(2 * 256 * 1024);
        BodyBudget.releaseHeldByCurrentThread();
        assertThat(budget.reservedBytes()).isZero();

        hub.setBody(100_000, true, 0);
        assertThat(client.fetch("k2", NO_SIGNAL)).hasSize(100_000);
        assertThat(budget.reservedBytes()).as("a chunked answer's room shrinks to its size once read")
                .isEqualTo(196 * 1024);
        hub.setBody(0, false, 0);
        assertThat(client.fetch("k3", NO_SIGNAL)).as("fetching again: the last body is done with").hasSizeLessThan(200);
        assertThat(budget.bodies()).isEqualTo(1);
        assertThat(budget.reservedBytes()).isEqualTo(1024);
    }

    /**
     * The JDK client keeps a pooled connection's first exchange, response and body included, reachable for the
     * connection's life: a body left there would sit in the heap outside the budget until the connection closes.
     */
    @Test
    void aBodyIsKeptNowhereOnceItsJobIsDoneWithIt() {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(256 * 1024));
        HubClient client = client(hub, new RecordingLimiter());

        WeakReference<byte[]> first = new WeakReference<>(client.fetch("first-on-its-connection", NO_SIGNAL));
        BodyBudget.releaseHeldByCurrentThread();

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
            System.gc();
            return first.get() == null;
        });
        assertThat(client.fetch("second-on-the-same-connection", NO_SIGNAL)).hasSize(256 * 1024);
    }

    @Test
    void aSlowBodyPastTheRequestTimeoutEndsAsHubTimeoutAndTheHubSeesItsConnectionClosedWithinTheLease() {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(100_000).bodyTrickleMs(10_000));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub, limiter, "hub.request_timeout_ms", "1000", "hub.connect_timeout_ms", "1000",
                "hub.permit_grace_ms", "1000", "breaker.failure_threshold", "2");

        long sent = System.nanoTime();
        AtomicLong hubSawItEnd = new AtomicLong();
        Thread watcher = Thread.ofVirtual().start(() -> {
            while (hub.stats().inFlight() == 0 && System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(5)) {
                LockSupport.parkNanos(1_000_000);
            }
            while (hub.stats().inFlight() > 0 && System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(5)) {
                LockSupport.parkNanos(1_000_000);
            }
            hubSawItEnd.set(System.nanoTime());
        });
        SluiceException e = fetchFails(client, "slow");
        long failedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);

        assertThat(e.kind()).isEqualTo(ErrorKind.HUB_TIMEOUT);
        assertThat(e.kind().countsAgainstBreaker()).isTrue();
        assertThat(e.getMessage()).startsWith("Hub answer for slow did not arrive in full within hub.request_timeout_ms (1000): ")
                .contains("of 100000 body bytes read; the connection was closed");
        assertThat(failedAfterMs).as("ended at the request timeout").isBetween(950L, 1_900L);
        await().atMost(Duration.ofSeconds(6)).until(() -> !watcher.isAlive());
        long hubEndedAfterMs = TimeUnit.NANOSECONDS.toMillis(hubSawItEnd.get() - sent);
        assertThat(hubEndedAfterMs).as("the Hub saw the connection closed before request timeout + grace")
                .isGreaterThan(900L).isLessThan(2_000L);
        assertThat(client.counts().timeouts()).isEqualTo(1);
        assertThat(client.counts().bodyTimeouts()).isEqualTo(1);
        assertThat(client.counts().bodyBytesRead()).isBetween(1L, 100_000L - 1);
        assertThat(limiter.keptUntilLeaseEnd).as("the permit stays counted until its lease").hasValue(1);
        assertThat(limiter.closed).hasValue(0);
        assertThat(client.bodyBudget().reservedBytes()).isZero();

        assertThat(fetchFails(client, "slow-2").kind()).isEqualTo(ErrorKind.HUB_TIMEOUT);
        assertThat(client.breakerState()).as("body timeouts count against the breaker").isEqualTo(BreakerListener.State.OPEN);
    }

    /**
     * Two nodes, two permits fleet-wide, leases of 1 s, and a Hub whose every body takes 3 s: were the bodies read
     * without a deadline, a node would keep its connection at the Hub after its permit's lease ended and the other
     * node took the permit, and the Hub would see three or four requests in flight.
     */
    @Test
    void trickledBodiesNeverLetTheHubSeeMoreInFlightThanTheFleetLimit() throws Exception {
        TestFleet fleet = closed(TestFleet.start(2));
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(50_000).bodyTrickleMs(3_000).maxInFlight(2)
                .enforceLimits(false));
        SluiceConfig config = config(hub, "hub.request_timeout_ms", "500", "hub.connect_timeout_ms", "500",
                "hub.permit_grace_ms", "500", "hub.max_concurrent_connections", "2",
                "hub.max_requests_per_second", "100", "breaker.failure_threshold", "1000");
        List<HubClient> clients = new ArrayList<>();
        for (int node = 0; node < 2; node++) {
            FleetHubLimiter limiter = fleet.limiter(node, TestFleet.settings(2, 100,
                    Duration.ofMillis(config.hub().permitLeaseMs()), StoreFailurePolicy.FAIL_CLOSED));
            clients.add(closed(new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC())));
        }

        AtomicInteger timedOut = new AtomicInteger();
        try (ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (HubClient client : clients) {
                for (int t = 0; t < 2; t++) {
                    done.add(callers.submit(() -> {
                        for (int i = 0; i < 3; i++) {
                            try {
                                client.fetch("k-" + Thread.currentThread().threadId() + "-" + i, NO_SIGNAL);
                            } catch (SluiceException e) {
                                if (e.kind() == ErrorKind.HUB_TIMEOUT) {
                                    timedOut.incrementAndGet();
                                }
                            }
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        }

        // The simulator notices a client's hang-up at its next write: it may still be trickling the last answers.
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> hub.stats().inFlight() == 0);
        HubStats stats = hub.stats();
        assertThat(stats.maxInFlight()).as(stats.toString()).isLessThanOrEqualTo(2);
        assertThat(stats.violations().inFlight()).as(stats.toString()).isZero();
        assertThat(timedOut.get()).as("answers trickled past the timeout").isGreaterThanOrEqualTo(4);
        assertThat(stats.totalRequests()).as("every request the Hub saw timed out at the client: " + stats)
                .isEqualTo(timedOut.get());
    }

    @Test
    void theBudgetBoundsTheBodiesInMemoryAtOnce() throws Exception {
        int bodyBytes = 256 * 1024;
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(bodyBytes).latencyMs(20));
        BodyBudget budget = BodyBudget.ofBytes(3 * BodyBudget.heapCost(bodyBytes));
        HubClient client = client(config(hub, "hub.max_response_bytes", Integer.toString(bodyBytes),
                "hub.request_timeout_ms", "10000"), new LocalHubLimiter(100, 10_000), budget);

        AtomicInteger inHand = new AtomicInteger();
        AtomicInteger mostInHand = new AtomicInteger();
        AtomicInteger fetched = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService jobs = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 24; t++) {
                done.add(jobs.submit(() -> {
                    start.await();
                    for (int i = 0; i < 4; i++) {
                        byte[] body = client.fetch("k-" + Thread.currentThread().threadId() + "-" + i, NO_SIGNAL);
                        mostInHand.accumulateAndGet(inHand.incrementAndGet(), Math::max);
                        Thread.sleep(15); // a slow sink: the body waits to be written
                        assertThat(body).hasSize(bodyBytes);
                        inHand.decrementAndGet();
                        BodyBudget.releaseHeldByCurrentThread();
                        fetched.incrementAndGet();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        }

        assertThat(fetched).hasValue(96);
        assertThat(budget.peakBodies()).as("answers being read or held at once").isEqualTo(3);
        assertThat(mostInHand.get()).as("bodies in the jobs' hands at once").isBetween(1, 3);
        assertThat(budget.reservedBytes()).isZero();
        assertThat(hub.stats().maxInFlight()).as("never more at the Hub than fit the budget").isLessThanOrEqualTo(3);
    }

    @Test
    void aCallWaitingForRoomHoldsNoPermitAndGivesUpAsBackpressure() throws Exception {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(4096));
        BodyBudget budget = BodyBudget.ofBytes(BodyBudget.heapCost(4096));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(config(hub, "hub.max_response_bytes", "4096", "hub.request_timeout_ms", "1000"),
                limiter, budget);
        client.fetch("held", NO_SIGNAL); // held by this thread: its room cannot be had elsewhere

        Future<SluiceException> other;
        try (ExecutorService elsewhere = Executors.newVirtualThreadPerTaskExecutor()) {
            other = elsewhere.submit(() -> fetchFails(client, "waits"));
            await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(5)).until(() -> budget.waiting() == 1);
            assertThat(limiter.granted).as("no permit while waiting for room").hasValue(1);
        }
        SluiceException e = other.get();
        assertThat(e.kind()).isEqualTo(ErrorKind.BACKPRESSURE);
        assertThat(e.attempted()).isFalse();
        assertThat(e.getMessage()).startsWith("no room for the Hub answer for waits within 1000 ms: 8192 of 8192 bytes")
                .contains("taken by 1 answers");
        assertThat(limiter.granted).hasValue(1);
        assertThat(hub.stats().totalRequests()).isEqualTo(1);
    }

    @Test
    void roomHeldByAJobThatEndedWithoutGivingItBackReturnsWhenItsThreadIsGone() throws Exception {
        HubSimulator hub = hub(HubSimulator.builder());
        BodyBudget budget = BodyBudget.ofBytes(BodyBudget.heapCost(MIB));
        HubClient client = client(config(hub), new RecordingLimiter(), budget);

        Thread.ofVirtual().start(() -> client.fetch("forgotten", NO_SIGNAL)).join();
        assertThat(budget.bodies()).isEqualTo(1);

        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).until(() -> budget.bodies() == 0);
        assertThat(budget.reservedBytes()).isZero();
        assertThat(budget.abandoned()).isEqualTo(1);
    }

    @Test
    void theHubFetchHandlerHoldsTheBodyUntilItsResultIsWrittenThenGivesItsRoomBack() throws Exception {
        HubSimulator hub = hub(HubSimulator.builder().bodyBytes(10_000));
        BodyBudget budget = BodyBudget.ofBytes(BodyBudget.heapCost(MIB));
        HubClient client = client(config(hub), new RecordingLimiter(), budget);
        List<Long> reservedWhileWriting = new ArrayList<>();
        JobContext context = new JobContext() {
            @Override
            public byte[] callHub(String key) {
                return client.fetch(key, NO_SIGNAL);
            }

            @Override
            public void writeResult(Job job, byte[] result) {
                reservedWhileWriting.add(budget.reservedBytes());
            }
        };

        new HubFetchHandler().handle(new Job("hub-fetch:k", "hub-fetch", "k", null, 0), context);

        assertThat(reservedWhileWriting).containsExactly(20L * 1024);
        assertThat(budget.reservedBytes()).isZero();
        assertThat(budget.bodies()).isZero();
    }

    /** Grants everything and records how each permit ended. */
    private static final class RecordingLimiter implements HubLimiter {
        final AtomicInteger granted = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();
        final AtomicInteger keptUntilLeaseEnd = new AtomicInteger();

        @Override
        public Permit acquire(Duration maxWait) {
            granted.incrementAndGet();
            return new Permit() {
                @Override
                public void close() {
                    closed.incrementAndGet();
                }

                @Override
                public void keepUntilLeaseEnd() {
                    keptUntilLeaseEnd.incrementAndGet();
                }
            };
        }
    }
}
