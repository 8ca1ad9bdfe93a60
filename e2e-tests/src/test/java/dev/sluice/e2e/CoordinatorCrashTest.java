package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.testkit.Alertmanager;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * The coordinator, running as its own process, is SIGKILLed while a node-down alert fires and started again: a real
 * Alertmanager shows that alert once, with its first start, through the crash and the restart; the restarted
 * coordinator keeps it firing without sending it as new (the alerts topic holds one firing record for it), and when
 * the node comes back the resolution reaches Alertmanager.
 */
class CoordinatorCrashTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String NODE_DOWN = "SluiceNodeDown";
    private static final String NODE = "crash-victim";
    private static final String EVENTS = "crash.events";
    private static final String ALERTS = "crash.alerts";

    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final long started = System.nanoTime();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void aCoordinatorKilledWhileAnAlertFiresShowsItOnceAfterRestartAndResolvesIt() {
        assumeThat(Alertmanager.installed()).as("prometheus-alertmanager is installed at " + Alertmanager.BINARY)
                .isTrue();
        Alertmanager alertmanager = closeLater(Alertmanager.start(dir.resolve("alertmanager")));
        // The restarted coordinator joins the consumer group of the killed one, whose membership lasts until its
        // session times out (45 s by default): a short session gets it its partition in seconds.
        Coordinators config = Coordinators.config(kafka.bootstrapServers(), EVENTS, ALERTS).webhook(alertmanager)
                .kafkaProperty("session.timeout.ms", "6000")
                .kafkaProperty("heartbeat.interval.ms", "1000");
        Coordinators.Running first = closeLater(config.startProcess(dir, "coordinator-1"));
        step("coordinator-1 ready");

        NodeProcess victim = closeLater(Workers.startAndAwait(worker(), NODE));
        awaitUntil(Duration.ofSeconds(30), () -> Http.clusterNode(first.uri(), NODE).path("alive").asBoolean());
        step("node alive");
        victim.kill();
        awaitUntil(Duration.ofSeconds(30), () -> !Http.alerts(first.uri(), "firing", NODE_DOWN, NODE).isEmpty());
        JsonNode firing = Http.alerts(first.uri(), "firing", NODE_DOWN, NODE).getFirst();
        String fingerprint = firing.path("fingerprint").asText();
        Instant startsAt = Instant.parse(firing.path("startsAt").asText());
        // Alertmanager keeps times to the millisecond.
        Instant startsAtMillis = startsAt.truncatedTo(ChronoUnit.MILLIS);
        awaitUntil(Duration.ofSeconds(10), () -> Http.listed(alertmanager, NODE_DOWN, NODE).size() == 1);
        assertThat(startsAtIn(alertmanager)).isEqualTo(startsAtMillis);
        awaitUntil(Duration.ofSeconds(10),
                () -> AlertsTopic.states(kafka.bootstrapServers(), ALERTS).containsKey(fingerprint));

        // The coordinator dies without a word; Alertmanager keeps the alert (no end time was sent).
        step("node-down firing, at Alertmanager and on the alerts topic");
        first.process().kill();
        assertThat(first.process().exitCode()).hasValue(137);
        assertThat(Http.listed(alertmanager, NODE_DOWN, NODE)).hasSize(1);

        Coordinators.Running second = closeLater(config.startProcess(dir, "coordinator-2"));
        URI api = second.uri();
        step("coordinator-2 ready");
        JsonNode restored = Http.alerts(api, "firing", NODE_DOWN, NODE).getFirst();
        assertThat(restored.path("fingerprint").asText()).isEqualTo(fingerprint);
        assertThat(Instant.parse(restored.path("startsAt").asText())).isEqualTo(startsAt);
        // Several re-sends later (one a second): still one alert at Alertmanager, with its first start.
        long resendsFrom = System.nanoTime();
        await().pollInterval(Duration.ofMillis(250)).during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(10))
                .until(() -> Http.listed(alertmanager, NODE_DOWN, NODE).size() == 1
                        && startsAtIn(alertmanager).equals(startsAtMillis)
                        && !Http.alerts(api, "firing", NODE_DOWN, NODE).isEmpty());
        assertThat(System.nanoTime() - resendsFrom).isGreaterThanOrEqualTo(Duration.ofSeconds(4).toNanos());
        assertThat(AlertsTopic.states(kafka.bootstrapServers(), ALERTS).get(fingerprint))
                .as("alerts topic records of the node-down alert: not fired again by the restarted coordinator")
                .containsExactly("firing");

        step("one alert at Alertmanager through the re-sends");
        // The node comes back: the restarted coordinator resolves the alert and Alertmanager drops it.
        closeLater(Workers.startAndAwait(worker(), NODE));
        awaitUntil(Duration.ofSeconds(30), () -> Http.alerts(api, "firing", NODE_DOWN, NODE).isEmpty()
                && !Http.alerts(api, "resolved", NODE_DOWN, NODE).isEmpty());
        JsonNode resolved = Http.alerts(api, "resolved", NODE_DOWN, NODE).getFirst();
        assertThat(resolved.path("fingerprint").asText()).isEqualTo(fingerprint);
        assertThat(Instant.parse(resolved.path("startsAt").asText())).isEqualTo(startsAt);
        awaitUntil(Duration.ofSeconds(30), () -> Http.listed(alertmanager, NODE_DOWN, NODE).isEmpty());
        step("resolved, gone from Alertmanager");
        awaitUntil(Duration.ofSeconds(10), () -> AlertsTopic.states(kafka.bootstrapServers(), ALERTS).get(fingerprint)
                .equals(List.of("firing", "resolved")));
    }

    private void step(String what) {
        System.out.printf("CoordinatorCrashTest +%.1f s: %s%n", (System.nanoTime() - started) / 1e9, what);
    }

    private NodeProcess.Builder worker() {
        return Workers.worker(NODE, redis.url(), kafka.bootstrapServers(), EVENTS, "http://127.0.0.1:9");
    }

    private static Instant startsAtIn(Alertmanager alertmanager) {
        return Instant.parse(Http.listed(alertmanager, NODE_DOWN, NODE).getFirst().path("startsAt").asText());
    }

    private static void awaitUntil(Duration atMost, Callable<Boolean> condition) {
        await().pollInterval(Duration.ofMillis(100)).atMost(atMost).until(condition);
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }
}
