package dev.sluice.coordinator.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.coordinator.AlertReceiver;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import dev.sluice.coordinator.alerting.Fingerprint;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class AlertmanagerWebhookTest {

    private static final Instant STARTS = Instant.parse("2026-01-01T00:01:00Z");
    private static final Instant ENDS = Instant.parse("2026-01-01T00:05:00Z");

    private final AlertReceiver receiver = new AlertReceiver();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<Alert> firingNow = new CopyOnWriteArrayList<>();
    private AlertmanagerWebhook webhook;

    @AfterEach
    void stop() {
        if (webhook != null) {
            webhook.close();
        }
        receiver.close();
    }

    private AlertmanagerWebhook start(URI url, Duration resend, int maxAttempts) {
        webhook = new AlertmanagerWebhook(new AlertmanagerWebhook.Settings(url, Duration.ofSeconds(5), resend,
                maxAttempts, Duration.ofMillis(50), URI.create("http://coordinator.example:8081/")),
                () -> List.copyOf(firingNow), meters);
        return webhook;
    }

    private static Alert alert(AlertState state) {
        TreeMap<String, String> labels = new TreeMap<>(Map.of("alertname", "SluicePoolUsageHigh",
                "severity", "warning", "node", "n1"));
        return new Alert(Fingerprint.of("pool_usage", labels), "pool_usage", labels,
                Map.of("summary", "Redis pool usage 90.0% on n1", "description", "18 of 20 in use"), state,
                STARTS.minusSeconds(60), STARTS, state == AlertState.RESOLVED ? ENDS : null, 0.9, STARTS);
    }

    @Test
    void sendsAFiringAlertAtOnceResendsItWhileItFiresAndSendsTheResolutionWithItsEndTime() {
        start(receiver.url(), Duration.ofMillis(300), 3);
        Alert firing = alert(AlertState.FIRING);
        firingNow.add(firing);
        webhook.onTransitions(List.of(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, STARTS)));

        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> receiver.accepted("SluicePoolUsageHigh").size() >= 2);
        JsonNode first = receiver.accepted("SluicePoolUsageHigh").getFirst();
        assertThat(first.path("labels").path("alertname").asText()).isEqualTo("SluicePoolUsageHigh");
        assertThat(first.path("labels").path("severity").asText()).isEqualTo("warning");
        assertThat(first.path("labels").path("node").asText()).isEqualTo("n1");
        assertThat(first.path("annotations").path("summary").asText()).isEqualTo("Redis pool usage 90.0% on n1");
        assertThat(first.path("annotations").path("description").asText()).isEqualTo("18 of 20 in use");
        assertThat(first.path("startsAt").asText()).isEqualTo("2026-01-01T00:01:00Z");
        assertThat(first.has("endsAt")).isFalse();
        assertThat(first.path("generatorURL").asText())
                .isEqualTo("http://coordinator.example:8081/api/alerts?fingerprint=" + firing.fingerprint());
        JsonNode resent = receiver.accepted("SluicePoolUsageHigh").get(1);
        assertThat(resent).isEqualTo(first);

        firingNow.clear();
        Alert resolved = alert(AlertState.RESOLVED);
        webhook.onTransitions(List.of(new AlertTransition(resolved, AlertState.FIRING, AlertState.RESOLVED, ENDS)));
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> receiver.accepted("SluicePoolUsageHigh").stream().anyMatch(a -> a.has("endsAt")));
        JsonNode end = receiver.accepted("SluicePoolUsageHigh").stream().filter(a -> a.has("endsAt")).findFirst()
                .orElseThrow();
        assertThat(end.path("endsAt").asText()).isEqualTo("2026-01-01T00:05:00Z");
        assertThat(end.path("startsAt").asText()).isEqualTo("2026-01-01T00:01:00Z");
        assertThat(end.path("labels")).isEqualTo(first.path("labels"));
    }

    @Test
    void retriesWithBackoffWhenTheReceiverAnswers500() {
        receiver.failNext(2, 500);
        start(receiver.url(), Duration.ofMinutes(5), 5);
        Alert firing = alert(AlertState.FIRING);
        webhook.onTransitions(List.of(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, STARTS)));

        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> receiver.accepted("SluicePoolUsageHigh").size() == 1);
        assertThat(receiver.posts()).extracting(AlertReceiver.Post::answeredWith).containsExactly(500, 500, 200);
        assertThat(receiver.posts()).extracting(AlertReceiver.Post::body).allMatch(b -> b.equals(receiver.posts().get(2).body()));
        assertThat(meters.counter("sluice.coordinator.webhook.retries").count()).isEqualTo(2);
        // The sender counts the delivery once it has read the answer, which may be just after the receiver saw it.
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(meters.counter("sluice.coordinator.webhook.deliveries", "outcome", "delivered").count())
                        .isEqualTo(1));
    }

    @Test
    void givesUpAfterTheMaximumAttemptsAndDoesNotRetryAClientError() {
        receiver.failNext(10, 500);
        start(receiver.url(), Duration.ofMinutes(5), 3);
        Alert firing = alert(AlertState.FIRING);
        webhook.onTransitions(List.of(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, STARTS)));
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> meters.counter("sluice.coordinator.webhook.deliveries", "outcome", "failed").count() == 1);
        assertThat(receiver.posts()).hasSize(3);

        receiver.failNext(10, 400);
        webhook.onTransitions(List.of(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, STARTS)));
        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10))
                .until(() -> meters.counter("sluice.coordinator.webhook.deliveries", "outcome", "failed").count() == 2);
        assertThat(receiver.posts()).hasSize(4);
    }

    @Test
    void userInfoInTheUrlBecomesBasicAuthentication() {
        URI url = URI.create(receiver.url().toString().replace("http://", "http://am:s3cret@"));
        start(url, Duration.ofMinutes(5), 1);
        assertThat(webhook.target()).isEqualTo(receiver.url());
        webhook.onTransitions(List.of(new AlertTransition(alert(AlertState.FIRING), null, AlertState.FIRING, STARTS)));

        await().pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(10)).until(() -> receiver.posts().size() == 1);
        assertThat(receiver.posts().getFirst().authorization())
                .isEqualTo("Basic " + Base64.getEncoder().encodeToString("am:s3cret".getBytes(StandardCharsets.UTF_8)));
    }
}
