package dev.sluice.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.sluice.coordinator.TestCoordinators.awaitUntil;
import static dev.sluice.coordinator.TestCoordinators.firingFor;
import static dev.sluice.coordinator.TestCoordinators.resolvedFor;
import static dev.sluice.coordinator.TestCoordinators.startAndAwaitReady;
import static dev.sluice.coordinator.TestCoordinators.topicStates;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A coordinator stopped while an alert fires and another started on the same Kafka: the alert still fires, with its
 * first start time, and the webhook receiver never gets it as a new alert; once resolved, a third coordinator does
 * not bring it back.
 */
class CoordinatorRestartTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String POOL = "SluicePoolUsageHigh";

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final AlertReceiver receiver = new AlertReceiver();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        receiver.close();
    }

    @Test
    void aFiringAlertSurvivesARestartWithoutBeingSentAsNewAndAResolvedOneIsNotResurrected(KafkaBroker broker)
            throws Exception {
        String toml = TestCoordinators.config(broker, "restart.events", "restart.alerts",
                "webhook_url = \"" + receiver.url() + "\"\nwebhook_resend_secs = 1\nwebhook_backoff_ms = 50\n", "");
        Coordinator first = startAndAwaitReady(toml, toClose);
        FakeNode n1 = new FakeNode("n1", broker.bootstrapServers(), "restart.events", Duration.ofMillis(200)).start();
        toClose.add(n1);
        n1.change(e -> e.pool(19, 20));
        awaitUntil(() -> firingFor(first.uri(), POOL, "n1") && !receiver.accepted(POOL).isEmpty());
        String startsAt = receiver.accepted(POOL).getFirst().path("startsAt").asText();
        String fingerprint = Http.alerts(first.uri(), "firing", POOL).getFirst().path("fingerprint").asText();
        assertThat(first.flushAlertTopic(Duration.ofSeconds(10))).isTrue();
        first.close();

        // A new coordinator on the same topics and group, the pool still saturated.
        int postsBefore = receiver.posts().size();
        Coordinator second = startAndAwaitReady(toml, toClose);
        URI api = second.uri();
        JsonNode restored = Http.alerts(api, "firing", POOL).getFirst();
        assertThat(restored.path("fingerprint").asText()).isEqualTo(fingerprint);
        assertThat(restored.path("startsAt").asText()).isEqualTo(startsAt);
        // It re-sends the alert as it fires (the receiver must not time it out), never as a new one.
        awaitUntil(() -> receiver.accepted(POOL).size() > acceptedUpTo(postsBefore));
        assertThat(receiver.accepted(POOL)).allSatisfy(a -> {
            assertThat(a.path("startsAt").asText()).isEqualTo(startsAt);
            assertThat(a.has("endsAt")).isFalse();
        });
        assertThat(second.flushAlertTopic(Duration.ofSeconds(10))).isTrue();
        assertThat(topicStates(broker, "restart.alerts").get(fingerprint)).containsExactly("firing");

        // The cause goes away: the second coordinator resolves it, with its end time.
        n1.change(e -> e.pool(1, 20));
        awaitUntil(() -> resolvedFor(api, POOL, "n1")
                && receiver.accepted(POOL).stream().anyMatch(a -> a.has("endsAt")));
        JsonNode resolution = receiver.accepted(POOL).stream().filter(a -> a.has("endsAt")).findFirst().orElseThrow();
        assertThat(resolution.path("startsAt").asText()).isEqualTo(startsAt);
        String endsAt = resolution.path("endsAt").asText();
        assertThat(second.flushAlertTopic(Duration.ofSeconds(10))).isTrue();
        second.close();

        // A third coordinator keeps it resolved: not firing, nothing sent about it again.
        int acceptedBefore = receiver.accepted(POOL).size();
        int postsBeforeThird = receiver.posts().size();
        Coordinator third = startAndAwaitReady(toml, toClose);
        assertThat(Http.alerts(third.uri(), "firing", POOL)).isEmpty();
        assertThat(Http.alerts(third.uri(), "resolved", POOL)).singleElement()
                .satisfies(a -> assertThat(a.path("endsAt").asText()).isEqualTo(endsAt));
        // Two resends of the watchdog later, still nothing about the pool.
        awaitUntil(() -> receiver.posts().size() >= postsBeforeThird + 2);
        assertThat(receiver.accepted(POOL)).hasSize(acceptedBefore);
        assertThat(topicStates(broker, "restart.alerts").get(fingerprint)).containsExactly("firing", "resolved");
    }

    /** The number of accepted pool alerts among the first {@code posts} requests. */
    private int acceptedUpTo(int posts) {
        int count = 0;
        List<AlertReceiver.Post> all = receiver.posts();
        for (int i = 0; i < posts && i < all.size(); i++) {
            if (all.get(i).answeredWith() == 200) {
                for (JsonNode a : all.get(i).body()) {
                    if (POOL.equals(a.path("labels").path("alertname").asText())) {
                        count++;
                    }
                }
            }
        }
        return count;
    }
}
