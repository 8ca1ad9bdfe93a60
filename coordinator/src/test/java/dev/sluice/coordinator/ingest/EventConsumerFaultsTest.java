package dev.sluice.coordinator.ingest;

import dev.sluice.common.event.EventCodec;
import dev.sluice.coordinator.FakeNode;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.coordinator.state.ClusterState;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.InterruptException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Clock;
import java.time.Duration;
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

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No zombie, for the coordinator's events consumer: an exception escaping a poll replaces the Kafka consumer after a
 * pause and events are applied again; an error ends the loop and fails liveness at once (a
 * {@link VirtualMachineError} also marks the coordinator dead and asks to exit); a consumer frozen in a poll fails
 * liveness after three of its rounds and is live again once it moves. Faults come from real Kafka consumers on a real
 * KRaft broker whose {@code poll} throws or blocks on cue; the watch runs on a clock the test moves.
 */
class EventConsumerFaultsTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final AtomicInteger RUN = new AtomicInteger();

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<Throwable> exits = new CopyOnWriteArrayList<>();
    private final LoopWatch watch = new LoopWatch(now::get, LoopWatch.MINIMUM_STALL, exits::add);
    private final List<AutoCloseable> closing = new ArrayList<>();

    private final AtomicInteger exceptionsLeft = new AtomicInteger();
    private final AtomicReference<Error> nextError = new AtomicReference<>();
    private final AtomicBoolean freeze = new AtomicBoolean();
    private final CountDownLatch frozen = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final AtomicInteger made = new AtomicInteger();

    private final IngestStats stats = new IngestStats(new SimpleMeterRegistry());
    private final ClusterState state = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5), 3,
            Duration.ofMinutes(5), Duration.ofHours(1)));
    private String topic;
    private KafkaProducer<String, byte[]> producer;
    private final TestEvents node = new TestEvents("a");

    @AfterEach
    void closeAll() throws Exception {
        release.countDown();
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    /** A consumer of a fresh topic in a fresh group, whose Kafka consumers throw or block in poll on cue. */
    private EventConsumer start(KafkaBroker broker) throws Exception {
        topic = "consumer-faults.events." + RUN.incrementAndGet();
        Map<String, Object> admin = Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        try (Admin client = Admin.create(admin)) {
            Topics.ensure(client, topic, false, Duration.ofSeconds(30));
        }
        producer = FakeNode.producer(broker.bootstrapServers());
        closing.add(producer);
        Map<String, Object> config = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, topic + ".group");
        EventConsumer consumer = new EventConsumer(config, topic, Duration.ofMinutes(10), state, stats,
                Clock.systemUTC(), watch, c -> {
                    made.incrementAndGet();
                    return new KafkaConsumer<String, byte[]>(c) {
                        @Override
                        public ConsumerRecords<String, byte[]> poll(Duration timeout) {
                            if (exceptionsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                                throw new IllegalStateException("injected into the events consumer");
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
                                    throw new InterruptException(e);
                                }
                            }
                            return super.poll(timeout);
                        }
                    };
                });
        closing.add(consumer);
        send(2);
        consumer.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> consumer.caughtUp() && heartbeats() == 2);
        return consumer;
    }

    private void send(int heartbeats) throws Exception {
        for (int i = 0; i < heartbeats; i++) {
            byte[] heartbeat = EventCodec.encode(node.heartbeat(System.currentTimeMillis()));
            producer.send(new ProducerRecord<>(topic, "a", heartbeat)).get(10, TimeUnit.SECONDS);
        }
    }

    private long heartbeats() {
        return stats.consumedByType().getOrDefault("heartbeat", 0L);
    }

    /** Moves the watch's clock past the consumer's limit: three of its longest rounds. */
    private void standStillForMoreThanThreeRounds() {
        now.addAndGet(EventConsumer.LONGEST_ROUND.multipliedBy(3).plusSeconds(1).toNanos());
    }

    @Test
    void anExceptionEscapingAPollReplacesTheConsumerAndEventsAreAppliedAgain(KafkaBroker broker) throws Exception {
        start(broker);
        exceptionsLeft.set(1);
        await().atMost(Duration.ofSeconds(30)).until(() -> stats.consumerRestarts() == 1 && made.get() == 2);

        send(3);
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats() == 5);
        standStillForMoreThanThreeRounds();
        // The replacement comes round at every poll: judged live again at once.
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());
        assertThat(exceptionsLeft.get()).isZero();
        assertThat(exits).isEmpty();
    }

    @Test
    void aVirtualMachineErrorInTheConsumerMarksTheCoordinatorDeadAndAsksToExit(KafkaBroker broker) throws Exception {
        start(broker);
        nextError.set(new StackOverflowError("injected into the events consumer"));

        await().atMost(Duration.ofSeconds(30)).until(() -> !exits.isEmpty());
        assertThat(exits).singleElement().isInstanceOf(StackOverflowError.class);
        assertThat(watch.problems()).containsExactlyInAnyOrder(
                "fatal error: java.lang.StackOverflowError: injected into the events consumer on thread "
                        + "sluice-events-consumer",
                "events-consumer ended by an error");
        assertThat(stats.consumerRestarts()).as("an error is not an exception to recover from").isZero();
    }

    @Test
    void anErrorThatIsNotFatalEndsTheConsumerAndLivenessSaysSoAtOnce(KafkaBroker broker) throws Exception {
        start(broker);
        nextError.set(new AssertionError("injected into the events consumer"));

        await().atMost(Duration.ofSeconds(30)).until(() -> !watch.problems().isEmpty());
        assertThat(watch.problems()).containsExactly("events-consumer ended by an error");
        assertThat(stats.consumerRestarts()).isZero();
        assertThat(made.get()).isEqualTo(1);
        assertThat(exits).isEmpty();
    }

    @Test
    void aConsumerFrozenInAPollFailsLivenessAndIsLiveAgainOnceItMoves(KafkaBroker broker) throws Exception {
        start(broker);
        standStillForMoreThanThreeRounds();
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());

        freeze.set(true);
        assertThat(frozen.await(30, TimeUnit.SECONDS)).as("the consumer reached a poll").isTrue();
        standStillForMoreThanThreeRounds();
        assertThat(watch.problems()).singleElement().isEqualTo(
                "events-consumer has work and has not come round for 181 s (limit 180 s)");
        assertThat(exits).isEmpty();

        freeze.set(false);
        release.countDown();
        send(1);
        await().atMost(Duration.ofSeconds(30)).until(() -> heartbeats() == 3);
        // It comes round again right after the round that applied the event.
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());
        assertThat(stats.consumerRestarts()).isZero();
    }
}
