package dev.sluice.worker.events;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.common.health.LoopWatch;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No zombie, for the node's event sender: an exception from the producer is retried with backoff and every event
 * still reaches the broker, in order; an error ends the sender and fails liveness at once (a
 * {@link VirtualMachineError} also marks the node dead and asks to exit); a sender frozen inside a send fails
 * liveness, even when the event in its hand is the only one. Faults come from a real {@link KafkaProducer} on a real
 * KRaft broker whose {@code send} throws or blocks on cue; the watch runs on a clock the test moves, so "three
 * periods, at least 30 s" is judged without waiting 30 s.
 */
class EventSenderFaultsTest {

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<Throwable> exits = new CopyOnWriteArrayList<>();
    private final LoopWatch watch = new LoopWatch(now::get, LoopWatch.MINIMUM_STALL, exits::add);
    private final List<AutoCloseable> closing = new ArrayList<>();

    private final AtomicInteger exceptionsLeft = new AtomicInteger();
    private final AtomicReference<Error> nextError = new AtomicReference<>();
    private final AtomicBoolean freeze = new AtomicBoolean();
    private final CountDownLatch frozen = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    /** When each send was called, in nanoseconds of the system's monotonic clock. */
    private final List<Long> sendCalls = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        release.countDown();
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    /** A real producer whose sends throw or block on cue before they reach it. */
    private Producer<String, byte[]> faultyProducer(Map<String, Object> config) {
        return new KafkaProducer<String, byte[]>(config) {
            @Override
            public Future<RecordMetadata> send(ProducerRecord<String, byte[]> record, Callback callback) {
                sendCalls.add(System.nanoTime());
                if (exceptionsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw new KafkaException("injected into the event sender");
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
                return super.send(record, callback);
            }
        };
    }

    private EventPublisher publisher(String topic) {
        KafkaConfig config = ConfigLoader.parse("", Map.of("SLUICE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers(),
                "SLUICE_KAFKA_EVENTS_TOPIC", topic, "SLUICE_KAFKA_BUFFER_EVENTS", "100")).kafka();
        EventPublisher publisher = new EventPublisher(config, "node-f", Clock.systemUTC(), new SimpleMeterRegistry(),
                watch, this::faultyProducer);
        closing.add(publisher);
        return publisher;
    }

    private static String newTopic() {
        String topic = "sender-faults-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        return topic;
    }

    /** The reasons of the first {@code n} events on {@code topic}, in the order of their sequence numbers. */
    private List<String> reasonsOnTopic(String topic, int n) {
        List<Event> got = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class))) {
            consumer.subscribe(List.of(topic));
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200))
                        .forEach(r -> got.add(((EventCodec.Decoded.Ok) EventCodec.decode(r.value())).event()));
                return got.size() >= n;
            });
        }
        assertThat(got).extracting(Event::sequence).as("sequence numbers on the topic")
                .containsExactlyElementsOf(LongStream.rangeClosed(1, n).boxed().toList());
        return got.stream().map(e -> ((EventPayload.NodeStopping) e.payload()).reason()).toList();
    }

    /** Moves the watch's clock past every loop's limit (three periods of the sender are 15 s, the least is 30 s). */
    private void standStillForAMinute() {
        now.addAndGet(Duration.ofSeconds(61).toNanos());
    }

    @Test
    void anExceptionFromTheProducerIsRetriedWithBackoffAndEveryEventStillArrivesInOrder() {
        String topic = newTopic();
        exceptionsLeft.set(3);
        EventPublisher publisher = publisher(topic);
        for (int i = 0; i < 5; i++) {
            publisher.publish(new EventPayload.NodeStopping("r" + i));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> publisher.sent() == 5);

        assertThat(reasonsOnTopic(topic, 5)).containsExactly("r0", "r1", "r2", "r3", "r4");
        assertThat(exceptionsLeft.get()).isZero();
        // The first event was tried four times, again after 100, 200 and 400 ms; the other four once each.
        assertThat(sendCalls).hasSize(8);
        for (int retry = 1; retry <= 3; retry++) {
            long waitedMs = Duration.ofNanos(sendCalls.get(retry) - sendCalls.get(retry - 1)).toMillis();
            assertThat(waitedMs).as("wait before retry %d", retry).isGreaterThanOrEqualTo(100L << (retry - 1));
        }
        assertThat(exits).isEmpty();
        assertThat(watch.problems()).isEmpty();
    }

    @Test
    void aSenderFrozenInsideASendFailsLivenessEvenWhenItHoldsTheOnlyEvent() throws InterruptedException {
        String topic = newTopic();
        freeze.set(true);
        EventPublisher publisher = publisher(topic);
        publisher.publish(new EventPayload.NodeStopping("held"));
        assertThat(frozen.await(30, TimeUnit.SECONDS)).as("the sender reached the send").isTrue();
        assertThat(publisher.buffered()).as("the event is in the sender's hand, not in the buffer").isZero();

        standStillForAMinute();
        assertThat(watch.problems()).singleElement()
                .satisfies(p -> assertThat(p).startsWith("event-sender has work and has not come round for 61 s"));

        publisher.publish(new EventPayload.NodeStopping("waiting-1"));
        publisher.publish(new EventPayload.NodeStopping("waiting-2"));
        assertThat(watch.problems()).singleElement().satisfies(p -> assertThat(p).startsWith("event-sender has work"));
        assertThat(exits).isEmpty();

        freeze.set(false);
        release.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> publisher.sent() == 3);
        assertThat(reasonsOnTopic(topic, 3)).containsExactly("held", "waiting-1", "waiting-2");
        assertThat(watch.problems()).isEmpty();
    }

    @Test
    void aVirtualMachineErrorInTheSenderMarksTheNodeDeadAndAsksToExit() {
        String topic = newTopic();
        nextError.set(new OutOfMemoryError("injected into the event sender"));
        EventPublisher publisher = publisher(topic);
        publisher.publish(new EventPayload.NodeStopping("first"));

        await().atMost(Duration.ofSeconds(30)).until(() -> !exits.isEmpty());
        assertThat(exits).singleElement().isInstanceOf(OutOfMemoryError.class);
        assertThat(watch.problems()).containsExactlyInAnyOrder(
                "fatal error: java.lang.OutOfMemoryError: injected into the event sender on thread sluice-events",
                "event-sender ended by an error");
        assertThat(publisher.sent()).isZero();
    }

    @Test
    void anErrorThatIsNotFatalEndsTheSenderAndLivenessSaysSoAtOnce() {
        String topic = newTopic();
        nextError.set(new AssertionError("injected into the event sender"));
        EventPublisher publisher = publisher(topic);
        publisher.publish(new EventPayload.NodeStopping("first"));

        // No waiting for three periods: a loop that ended by an error is reported as soon as it has ended.
        await().atMost(Duration.ofSeconds(30)).until(() -> !watch.problems().isEmpty());
        assertThat(watch.problems()).containsExactly("event-sender ended by an error");
        publisher.publish(new EventPayload.NodeStopping("second"));
        assertThat(publisher.buffered()).as("nobody takes events any more").isEqualTo(1);
        assertThat(publisher.sent()).isZero();
        assertThat(exits).isEmpty();
    }
}
