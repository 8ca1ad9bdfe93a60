package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static dev.sluice.coordinator.TestCoordinators.awaitUntil;
import static dev.sluice.coordinator.TestCoordinators.firingFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No zombie, for the coordinator's alert evaluator, and its {@code /health/live}: an exception in an evaluation (or
 * in reporting its failure) is counted and the next evaluations still raise alerts; an error ends the evaluator and
 * {@code /health/live} answers 503 at once (a {@link VirtualMachineError} also marks the coordinator dead and asks to
 * exit); an evaluator frozen in an evaluation makes {@code /health/live} answer 503 after three periods (at least
 * 30 s) and 200 again once it moves. A real coordinator on a real KRaft broker; the faults come from its clock, which
 * throws or blocks on cue when the evaluator reads it (the evaluator's thread is the one that tells the engine's
 * listeners); the watch runs on a clock the test moves.
 */
class EvaluatorFaultsTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final AtomicInteger RUN = new AtomicInteger();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<Throwable> exits = new CopyOnWriteArrayList<>();
    private final LoopWatch watch = new LoopWatch(now::get, LoopWatch.MINIMUM_STALL, exits::add);
    private final FaultyClock clock = new FaultyClock();
    private final CountDownLatch frozen = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private String events;

    @AfterEach
    void closeAll() throws Exception {
        release.countDown();
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    /** The system's clock; read on the evaluator's thread, it throws or blocks on cue. */
    private final class FaultyClock extends Clock {
        volatile Thread evaluator;
        final AtomicInteger exceptionsLeft = new AtomicInteger();
        final AtomicReference<Error> nextError = new AtomicReference<>();
        final AtomicBoolean freeze = new AtomicBoolean();

        @Override
        public Instant instant() {
            if (Thread.currentThread() == evaluator) {
                if (exceptionsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw new IllegalStateException("injected into the evaluator");
                }
                Error error = nextError.getAndSet(null);
                if (error != null) {
                    throw error;
                }
                if (freeze.get()) {
                    frozen.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            return Instant.now();
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException("UTC only");
        }
    }

    /** A coordinator with short for-durations, evaluating every 100 ms, once it has evaluated for the first time. */
    private Coordinator start(KafkaBroker broker) {
        events = "evaluator-faults.events." + RUN.incrementAndGet();
        String alerts = "evaluator-faults.alerts." + RUN.get();
        Coordinator coordinator = new Coordinator(ConfigLoader.parse(
                TestCoordinators.config(broker, events, alerts, "", ""), Map.of()), clock, watch);
        toClose.add(coordinator);
        // The first evaluation fires the watchdog: the thread that tells the listeners is the evaluator's.
        coordinator.engine().addListener(transitions -> {
            if (clock.evaluator == null) {
                clock.evaluator = Thread.currentThread();
            }
        });
        coordinator.start();
        await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(60)).until(coordinator::ready);
        assertThat(clock.evaluator).isNotNull();
        return coordinator;
    }

    private FakeNode node(KafkaBroker broker, String id) {
        FakeNode node = new FakeNode(id, broker.bootstrapServers(), events, Duration.ofMillis(200)).start();
        toClose.add(node);
        return node;
    }

    private static double evaluationFailures(Coordinator coordinator) {
        return coordinator.meters().get("sluice.coordinator.evaluation.failures").counter().count();
    }

    /** {@code GET /health/live}: the status code and the body. */
    private static JsonNode live(Coordinator coordinator, int expectedStatus) throws IOException {
        HttpResponse<String> response = Http.get(coordinator.uri(), "/health/live");
        assertThat(response.statusCode()).as("/health/live answered %s", response.body()).isEqualTo(expectedStatus);
        return JSON.readTree(response.body());
    }

    private static List<String> problems(JsonNode live) {
        List<String> problems = new ArrayList<>();
        live.path("problems").forEach(p -> problems.add(p.asText()));
        return problems;
    }

    /** Moves the watch's clock past the evaluator's limit (three periods of 100 ms are less than 30 s). */
    private void standStillForAMinute() {
        now.addAndGet(Duration.ofSeconds(61).toNanos());
    }

    @Test
    void anExceptionInAnEvaluationIsCountedAndTheNextEvaluationsStillRaiseAlerts(KafkaBroker broker)
            throws IOException {
        Coordinator coordinator = start(broker);
        // The clock fails for an evaluation, then again while its failure is reported: once, that cancelled the
        // evaluator's schedule for good, unseen.
        clock.exceptionsLeft.set(2);
        awaitUntil(() -> evaluationFailures(coordinator) == 1 && clock.exceptionsLeft.get() == 0);

        FakeNode n1 = node(broker, "n1");
        awaitUntil(() -> Http.json(coordinator.uri(), "/api/cluster").path("nodesAlive").asInt() == 1);
        n1.silence();
        awaitUntil(() -> firingFor(coordinator.uri(), "SluiceNodeDown", "n1"));

        assertThat(evaluationFailures(coordinator)).isEqualTo(1);
        assertThat(live(coordinator, 200).path("status").asText()).isEqualTo("UP");
        assertThat(exits).isEmpty();
    }

    @Test
    void aVirtualMachineErrorInTheEvaluatorMarksTheCoordinatorDeadAndAsksToExit(KafkaBroker broker)
            throws IOException {
        Coordinator coordinator = start(broker);
        clock.nextError.set(new OutOfMemoryError("injected into the evaluator"));

        await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
        assertThat(exits).singleElement().isInstanceOf(OutOfMemoryError.class);
        JsonNode live = live(coordinator, 503);
        assertThat(live.path("status").asText()).isEqualTo("DOWN");
        assertThat(problems(live)).containsExactlyInAnyOrder(
                "fatal error: java.lang.OutOfMemoryError: injected into the evaluator on thread "
                        + clock.evaluator.getName(),
                "evaluator ended by an error");
    }

    @Test
    void anErrorThatIsNotFatalEndsTheEvaluatorAndLivenessFailsAtOnce(KafkaBroker broker) throws IOException {
        Coordinator coordinator = start(broker);
        clock.nextError.set(new AssertionError("injected into the evaluator"));

        await().atMost(Duration.ofSeconds(10)).until(() -> !watch.problems().isEmpty());
        assertThat(problems(live(coordinator, 503))).containsExactly("evaluator ended by an error");
        assertThat(evaluationFailures(coordinator)).as("an error is not an evaluation to try again").isZero();
        assertThat(exits).isEmpty();
    }

    @Test
    void aFrozenEvaluatorFailsLivenessAndIsLiveAgainOnceItMoves(KafkaBroker broker)
            throws IOException, InterruptedException {
        Coordinator coordinator = start(broker);
        standStillForAMinute();
        // The consumer (every poll) and the evaluator (every 100 ms) come round: live.
        awaitUntil(() -> watch.problems().isEmpty());
        assertThat(live(coordinator, 200).path("status").asText()).isEqualTo("UP");

        clock.freeze.set(true);
        assertThat(frozen.await(10, TimeUnit.SECONDS)).as("the evaluator reached the clock").isTrue();
        standStillForAMinute();
        assertThat(problems(live(coordinator, 503)))
                .containsExactly("evaluator has work and has not come round for 61 s (limit 30 s)");
        assertThat(exits).isEmpty();

        clock.freeze.set(false);
        release.countDown();
        awaitUntil(() -> watch.problems().isEmpty());
        assertThat(live(coordinator, 200).path("status").asText()).isEqualTo("UP");
    }
}
