package dev.sluice.coordinator.webhook;

import dev.sluice.coordinator.AlertReceiver;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import dev.sluice.coordinator.alerting.Fingerprint;
import dev.sluice.common.health.LoopWatch;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No zombie, for the webhook sender: an exception in a delivery gives that delivery up (counted as failed) and the
 * sender goes on, so later alerts still reach a real HTTP receiver; an error ends the sender and fails liveness at once
 * (a {@link VirtualMachineError} also marks the coordinator dead and asks to exit); a sender frozen with deliveries
 * waiting fails liveness after three of its rounds and is live again once it moves. Faults come from the source of
 * the firing alerts, which the sender reads for every resend, throwing or blocking on cue; the watch runs on a clock
 * the test moves.
 */
class WebhookSenderFaultsTest {

    private static final Instant STARTS = Instant.parse("2026-01-01T00:01:00Z");

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<Throwable> exits = new CopyOnWriteArrayList<>();
    private final LoopWatch watch = new LoopWatch(now::get, LoopWatch.MINIMUM_STALL, exits::add);
    private final AlertReceiver receiver = new AlertReceiver();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    private final List<Alert> firingNow = new CopyOnWriteArrayList<>();
    private final AtomicInteger exceptionsLeft = new AtomicInteger();
    private final AtomicReference<Error> nextError = new AtomicReference<>();
    private final AtomicBoolean freeze = new AtomicBoolean();
    private final CountDownLatch frozen = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private AlertmanagerWebhook webhook;

    @AfterEach
    void stop() {
        release.countDown();
        if (webhook != null) {
            webhook.close();
        }
        receiver.close();
    }

    /** The firing alerts, read by the sender for each resend, with faults on cue. */
    private final Supplier<List<Alert>> firingSource = () -> {
        if (exceptionsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IllegalStateException("injected into the webhook sender");
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
        return List.copyOf(firingNow);
    };

    /** A sender posting to the receiver, resending every 200 ms; a post times out after 5 s. */
    private AlertmanagerWebhook start() {
        webhook = new AlertmanagerWebhook(new AlertmanagerWebhook.Settings(receiver.url(), Duration.ofSeconds(5),
                Duration.ofMillis(200), 3, Duration.ofMillis(50), URI.create("http://coordinator.example:8081/")),
                firingSource, meters, watch);
        return webhook;
    }

    private static Alert firing(String node) {
        TreeMap<String, String> labels = new TreeMap<>(Map.of("alertname", "SluiceNodeDown", "severity", "critical",
                "node", node));
        return new Alert(Fingerprint.of("node_down", labels), "node_down", labels,
                Map.of("summary", "node " + node + " is down", "description", "no heartbeat"), AlertState.FIRING,
                STARTS, STARTS, null, 1, STARTS);
    }

    private void fires(Alert alert) {
        webhook.onTransitions(List.of(new AlertTransition(alert, AlertState.PENDING, AlertState.FIRING, STARTS)));
    }

    private List<String> nodesReceived() {
        return receiver.accepted("SluiceNodeDown").stream().map(a -> a.path("labels").path("node").asText()).toList();
    }

    private double failedDeliveries() {
        return meters.counter("sluice.coordinator.webhook.deliveries", "outcome", "failed").count();
    }

    /** Moves the watch's clock past the sender's limit: 30 s (three rounds of a 5 s timeout are less). */
    private void standStillForMoreThanThirtySeconds() {
        now.addAndGet(Duration.ofSeconds(31).toNanos());
    }

    @Test
    void anExceptionInADeliveryGivesItUpAndLaterAlertsAreStillDelivered() {
        exceptionsLeft.set(1);
        firingNow.add(firing("n1"));
        start();
        // The first resend reads the firing alerts, which throws: that delivery is given up.
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10)).until(() -> failedDeliveries() == 1);
        assertThat(exceptionsLeft.get()).isZero();

        fires(firing("n2"));
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> nodesReceived().contains("n2") && nodesReceived().contains("n1"));
        assertThat(failedDeliveries()).isEqualTo(1);
        assertThat(exits).isEmpty();
        assertThat(watch.problems()).isEmpty();
    }

    @Test
    void aVirtualMachineErrorInTheSenderMarksTheCoordinatorDeadAndAsksToExit() {
        nextError.set(new OutOfMemoryError("injected into the webhook sender"));
        start();

        await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
        assertThat(exits).singleElement().isInstanceOf(OutOfMemoryError.class);
        assertThat(watch.problems()).containsExactlyInAnyOrder(
                "fatal error: java.lang.OutOfMemoryError: injected into the webhook sender on thread sluice-webhook",
                "webhook-sender ended by an error");
    }

    @Test
    void anErrorThatIsNotFatalEndsTheSenderAndLivenessSaysSoAtOnce() {
        nextError.set(new AssertionError("injected into the webhook sender"));
        start();

        await().atMost(Duration.ofSeconds(10)).until(() -> !watch.problems().isEmpty());
        assertThat(watch.problems()).containsExactly("webhook-sender ended by an error");
        assertThat(exits).isEmpty();
    }

    @Test
    void aSenderFrozenWithDeliveriesWaitingFailsLivenessAndIsLiveAgainOnceItMoves() throws InterruptedException {
        freeze.set(true);
        start();
        assertThat(frozen.await(10, TimeUnit.SECONDS)).as("the sender reached a resend").isTrue();
        fires(firing("n1"));

        standStillForMoreThanThirtySeconds();
        assertThat(watch.problems()).singleElement()
                .isEqualTo("webhook-sender has work and has not come round for 31 s (limit 30 s)");
        assertThat(exits).isEmpty();

        freeze.set(false);
        release.countDown();
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> nodesReceived().contains("n1"));
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());
    }
}
