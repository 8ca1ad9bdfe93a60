package dev.sluice.coordinator.feed;

import dev.sluice.common.config.MetricsConfig;
import dev.sluice.coordinator.Http;
import dev.sluice.adminhttp.AdminHttp;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import dev.sluice.testkit.SseReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.sluice.coordinator.TestCoordinators.awaitUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

class AlertStreamTest {

    private static final Instant T = Instant.parse("2026-01-01T00:00:00Z");

    private final AlertStream stream = new AlertStream(Duration.ofMillis(200));
    private final AdminHttp server = new AdminHttp("the alert stream", "127.0.0.1", 0)
            .read("/api/alerts/stream", stream).start();

    @AfterEach
    void stop() {
        stream.close();
        server.close();
    }

    private static AlertTransition transition(String node, AlertState from, AlertState to) {
        TreeMap<String, String> labels = new TreeMap<>(Map.of("alertname", "SluiceNodeDown", "node", node));
        Alert alert = new Alert("fp-" + node, "node_down", labels, Map.of("summary", "down"), to, T,
                to == AlertState.PENDING ? null : T, to == AlertState.RESOLVED ? T : null, 1, T);
        return new AlertTransition(alert, from, to, T);
    }

    @Test
    void everyTransitionIsAnEventNamedAfterTheNewStateAndAReconnectingClientGetsWhatItMissed() {
        URI api = server.uri();
        try (SseReader first = new SseReader(api, "/api/alerts/stream")) {
            awaitUntil(() -> first.connected() && stream.clients() == 1);
            stream.onTransitions(List.of(transition("a", null, AlertState.PENDING),
                    transition("a", AlertState.PENDING, AlertState.FIRING)));
            awaitUntil(() -> first.events().size() == 2);
            assertThat(first.events()).extracting(SseReader.Event::id, SseReader.Event::event)
                    .containsExactly(tuple("1", "pending"),
                            tuple("2", "firing"));
            SseReader.Event firing = first.events().get(1);
            assertThat(firing.data().path("from").asText()).isEqualTo("pending");
            assertThat(firing.data().path("to").asText()).isEqualTo("firing");
            assertThat(firing.data().path("alert").path("labels").path("node").asText()).isEqualTo("a");
            assertThat(firing.data().path("alert").path("fingerprint").asText()).isEqualTo("fp-a");
        }

        try (SseReader again = new SseReader(api, "/api/alerts/stream", "1")) {
            awaitUntil(() -> again.events().size() == 1);
            assertThat(again.events().getFirst().id()).isEqualTo("2");
            stream.onTransitions(List.of(transition("a", AlertState.FIRING, AlertState.RESOLVED)));
            awaitUntil(() -> again.events().size() == 2);
            assertThat(again.events().get(1).event()).isEqualTo("resolved");
            // Keep-alive comments flow while nothing happens.
            awaitUntil(() -> again.comments().stream().anyMatch(c -> c.contains("keep-alive")));
        }
    }

    @Test
    void headAnswersTheStreamsHeadersOnly() {
        var head = Http.request(server.uri(), "HEAD", "/api/alerts/stream");
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    }
}
