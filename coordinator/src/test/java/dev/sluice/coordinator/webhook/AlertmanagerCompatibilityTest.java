package dev.sluice.coordinator.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import dev.sluice.coordinator.alerting.Fingerprint;
import dev.sluice.testkit.Alertmanager;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * What the webhook posts is accepted by a real Prometheus Alertmanager: it lists the firing alert with our labels,
 * annotations, start and generator URL, keeps it as one alert through re-sends, and drops it once the resolution
 * arrives. Skipped where Debian's {@code prometheus-alertmanager} is not installed.
 */
class AlertmanagerCompatibilityTest {

    @TempDir
    Path dir;

    @Test
    void aRealAlertmanagerListsTheFiringAlertAndDropsItOnResolution() throws Exception {
        assumeThat(Alertmanager.installed()).as("prometheus-alertmanager is installed").isTrue();
        Instant startsAt = Instant.now().truncatedTo(ChronoUnit.SECONDS).minusSeconds(30);
        TreeMap<String, String> labels = new TreeMap<>(Map.of("alertname", "SluiceNodeDown", "severity", "critical",
                "node", "n7"));
        Alert firing = new Alert(Fingerprint.of("node_down", labels), "node_down", labels,
                Map.of("summary", "Node n7 is down", "description", "no heartbeat for 20 s"), AlertState.FIRING,
                startsAt, startsAt, null, 20, startsAt);

        List<Alert> firingNow = new CopyOnWriteArrayList<>(List.of(firing));
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        try (Alertmanager alertmanager = Alertmanager.start(dir);
             AlertmanagerWebhook webhook = new AlertmanagerWebhook(new AlertmanagerWebhook.Settings(
                     alertmanager.alertsApi(), Duration.ofSeconds(5), Duration.ofMillis(300), 10,
                     Duration.ofMillis(100), URI.create("http://coordinator.test:8081")),
                     () -> List.copyOf(firingNow), meters)) {
            webhook.onTransitions(List.of(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, startsAt)));

            await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30))
                    .until(() -> !alertmanager.alerts().isEmpty());
            JsonNode listed = alertmanager.alerts().getFirst();
            assertThat(listed.path("labels").path("alertname").asText()).isEqualTo("SluiceNodeDown");
            assertThat(listed.path("labels").path("node").asText()).isEqualTo("n7");
            assertThat(listed.path("labels").path("severity").asText()).isEqualTo("critical");
            assertThat(listed.path("annotations").path("summary").asText()).isEqualTo("Node n7 is down");
            assertThat(Instant.parse(listed.path("startsAt").asText())).isEqualTo(startsAt);
            assertThat(listed.path("generatorURL").asText()).startsWith("http://coordinator.test:8081/api/alerts");
            assertThat(listed.path("status").path("state").asText()).isIn("active", "unprocessed");

            // Re-sends (every 300 ms here) keep it one alert with its first start.
            await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(10)).until(() ->
                    meters.counter("sluice.coordinator.webhook.deliveries", "outcome", "delivered").count() >= 4);
            assertThat(alertmanager.alerts()).singleElement()
                    .satisfies(a -> assertThat(Instant.parse(a.path("startsAt").asText())).isEqualTo(startsAt));

            Instant endsAt = Instant.now().truncatedTo(ChronoUnit.SECONDS);
            Alert resolved = new Alert(firing.fingerprint(), firing.rule(), labels, firing.annotations(),
                    AlertState.RESOLVED, startsAt, startsAt, endsAt, 20, endsAt);
            firingNow.clear();
            webhook.onTransitions(List.of(new AlertTransition(resolved, AlertState.FIRING, AlertState.RESOLVED, endsAt)));
            await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(30))
                    .until(() -> alertmanager.alerts().isEmpty());
        }
    }
}
