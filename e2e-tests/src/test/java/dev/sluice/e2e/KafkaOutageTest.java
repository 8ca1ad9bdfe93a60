package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventPayload;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Kafka broker is stopped for 30 s while two worker processes work through a backlog at a rate set by their
 * own job slots and the Hub's latency (the Hub limits are far above it, so a publisher that blocked the jobs would
 * show), and while malformed jobs are dead-lettered, forcing events the nodes cannot send. Jobs keep their pace;
 * when the broker is back the events flow again by themselves and the next heartbeats count what overflowed the
 * small event buffer.
 */
class KafkaOutageTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final Duration OUTAGE = Duration.ofSeconds(30);
    private static final Duration BEFORE = Duration.ofSeconds(8);
    private static final List<String> NODES = List.of("outage-1", "outage-2");
    private static final String EVENTS = "outage.events";

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void jobsKeepTheirPaceWhileKafkaIsDownAndEventsResumeWithTheDropsCounted() throws Exception {
        KafkaBroker broker = kafka.broker();
        Coordinator coordinator = closeLater(Coordinators.config(broker.bootstrapServers(), EVENTS, "outage.alerts")
                .alerts("node_down_missed_heartbeats", 10)
                .alerts("rate_window_secs", 300)
                .startInProcess());
        URI api = coordinator.uri();
        // 50 ms per Hub call and 10 job slots per node: at most 200 jobs/s a node, whatever the machine does.
        HubSimulator hub = closeLater(HubSimulator.builder().latencyMs(50).build().start());
        Feeder feeder = closeLater(new Feeder(redis.server(), 1_500).start());
        List<NodeProcess> nodes = new ArrayList<>();
        for (String id : NODES) {
            nodes.add(closeLater(Workers.worker(id, redis.url(), broker.bootstrapServers(), EVENTS, hub.baseUrl())
                    .env("SLUICE_NODE_CONCURRENCY", "10")
                    .env("SLUICE_KAFKA_BUFFER_EVENTS", "20").start()));
        }
        for (int i = 0; i < NODES.size(); i++) {
            Workers.awaitStarted(nodes.get(i), NODES.get(i));
        }
        awaitUntil(Duration.ofSeconds(30), () -> NODES.stream()
                .allMatch(id -> Http.clusterNode(api, id).path("alive").asBoolean()));
        // Warm up (JIT, connections) before measuring, so the rate before the outage is the nodes' steady rate.
        long warm = hub.stats().count(200) + 1_500;
        awaitUntil(Duration.ofSeconds(30), () -> hub.stats().count(200) >= warm);

        long beforeFrom = System.nanoTime();
        holdFor(BEFORE, () -> feeder.lastError() == null);
        double before = feeder.rate(beforeFrom, System.nanoTime());

        long stopping = System.nanoTime();
        broker.stop();
        long stopped = System.nanoTime();
        Instant stoppedAt = Instant.now();
        // Dead letters during the outage: 20 malformed jobs a second, each a job-dead-lettered event the nodes
        // cannot send, on top of their heartbeats; a buffer of 20 events overflows within a second.
        feeder.malformedPerTick(1);
        Duration settle = Duration.ofSeconds(2);
        holdFor(settle, () -> true);
        long duringFrom = System.nanoTime();
        holdFor(OUTAGE.minus(settle).minusSeconds(1), () -> feeder.lastError() == null
                && nodes.stream().allMatch(NodeProcess::isAlive));
        double during = feeder.rate(duringFrom, System.nanoTime());
        holdFor(Duration.ofNanos(Math.max(0, stopped + OUTAGE.toNanos() - System.nanoTime())), () -> true);
        feeder.malformedPerTick(0);
        long malformed = feeder.malformed();
        Instant restarting = Instant.now();
        broker.start();
        System.out.printf(Locale.ROOT, "KafkaOutageTest: good jobs/s %.0f in %d s before the outage, %.0f during it "
                        + "(ratio %.2f); broker stop took %d ms, outage %d s, %d malformed jobs during it%n",
                before, BEFORE.toSeconds(), during, during / before, (stopped - stopping) / 1_000_000,
                Duration.between(stoppedAt, restarting).toSeconds(), malformed);

        assertThat(before).as("jobs/s before the outage").isGreaterThan(50);
        assertThat(during).as("jobs/s during the outage, against %.0f before", before).isGreaterThanOrEqualTo(0.7 * before);
        try (Jedis j = redis.server().newJedis()) {
            awaitUntil(Duration.ofSeconds(30), () -> j.xlen(Feeder.DEAD) >= malformed);
            assertThat(j.xlen(Feeder.DEAD)).as("every malformed job dead-lettered, nothing else").isEqualTo(malformed);
        }

        // Events flow again by themselves: the coordinator hears both nodes after the restart, and their heartbeats
        // count the events that did not fit in the buffer.
        awaitUntil(Duration.ofSeconds(60), () -> NODES.stream().allMatch(id ->
                Instant.parse(Http.clusterNode(api, id).path("lastSeen").asText()).isAfter(restarting)));
        awaitUntil(Duration.ofSeconds(30), () -> NODES.stream().allMatch(id -> Http.clusterNode(api, id)
                .path("rates").path("eventsDropped").asLong() > 0));
        List<Event> events = EventsTopic.read(broker.bootstrapServers(), EVENTS);
        for (String id : NODES) {
            List<EventPayload.Heartbeat> after = events.stream()
                    .filter(e -> e.nodeId().equals(id) && e.timestampMs() > restarting.toEpochMilli())
                    .map(Event::payload).filter(EventPayload.Heartbeat.class::isInstance)
                    .map(EventPayload.Heartbeat.class::cast).toList();
            assertThat(after).as("heartbeats of %s sent after the broker came back", id).isNotEmpty();
            assertThat(after.getLast().counters().eventsDropped()).as("events %s dropped", id).isPositive();
            System.out.printf("KafkaOutageTest: %s dropped %d events%n", id, after.getLast().counters().eventsDropped());
        }
        JsonNode alerts = Http.json(api, "/api/alerts");
        for (String list : List.of("firing", "pending", "resolved")) {
            assertThat(alerts.path(list)).as("%s alerts", list)
                    .noneMatch(a -> a.path("labels").path("alertname").asText().equals("SluiceNodeDown"));
        }
    }

    /** Lets {@code duration} pass, checking {@code invariant} all along. */
    private static void holdFor(Duration duration, Callable<Boolean> invariant) {
        if (duration.isZero() || duration.isNegative()) {
            return;
        }
        await().pollInterval(Duration.ofMillis(200)).during(duration).atMost(duration.plusSeconds(5)).until(invariant);
    }

    private static void awaitUntil(Duration atMost, Callable<Boolean> condition) {
        await().pollInterval(Duration.ofMillis(100)).atMost(atMost).until(condition);
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }
}
