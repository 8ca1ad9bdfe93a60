package dev.sluice.worker.events;

import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.common.health.RetryDelay;
import dev.sluice.common.health.Loops;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Publishes this node's events to Kafka, keyed by node id, without ever blocking the caller.
 *
 * <p>{@link #publish} only puts the event in a bounded buffer ({@code kafka.buffer_events}); one sender thread
 * hands events to an idempotent producer (acks=all). {@code KafkaProducer.send} itself blocks while it has no
 * metadata (Kafka unreachable), which is why only the sender thread ever calls it. While Kafka is down events wait
 * in the buffer; what does not fit is dropped and counted ({@link #dropped()}, the metric
 * {@code sluice.events.dropped} and the next heartbeat). When Kafka returns, events flow again by themselves.
 *
 * <p>An outage is logged once when it starts and once when it ends ({@link KafkaOutage}). It starts when a send
 * fails (no metadata within {@code max.block.ms}, or a delivery failed) or when sent events have had no
 * acknowledgement for {@value #UNANSWERED_MS} ms (the producer retries a broker that went away by itself, for up to
 * {@code delivery.timeout.ms}, without telling us); it ends with the next acknowledgement.
 */
public final class EventPublisher implements EventSink {
    private static final Logger log = LoggerFactory.getLogger(EventPublisher.class);
    /** Sent events without any acknowledgement for this long mean Kafka is unreachable (the request timeout). */
    static final long UNANSWERED_MS = 5_000;

    private final Object order = new Object();
    private final String nodeId;
    private final String topic;
    private final Clock clock;
    private final Producer<String, byte[]> producer;
    private final BlockingDeque<Event> buffer;
    private final AtomicLong sequence = new AtomicLong();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder sent = new LongAdder();
    private final LongAdder sendFailures = new LongAdder();
    /** Events handed to the producer whose callback has not come yet. */
    private final AtomicInteger unacknowledged = new AtomicInteger();
    /** When Kafka last acknowledged an event, or when a send went out while none was waiting for an answer. */
    private volatile long lastAnswerMillis;
    private final KafkaOutage outage;
    private final Thread sender;
    private final LoopWatch.Loop loop;
    /** True while the sender holds an event taken from the buffer: work, though the buffer may be empty. */
    private volatile boolean holding;
    private volatile boolean running = true;

    public EventPublisher(KafkaConfig kafka, String nodeId, Clock clock, MeterRegistry meters) {
        this(kafka, nodeId, clock, meters, LoopWatch.forNode());
    }

    /** @param watch watches the sender thread, and takes its errors */
    public EventPublisher(KafkaConfig kafka, String nodeId, Clock clock, MeterRegistry meters, LoopWatch watch) {
        this(kafka, nodeId, clock, meters, watch, KafkaProducer::new);
    }

    /** As above, with the producer made by {@code producers} from its configuration (tests wrap a real one). */
    EventPublisher(KafkaConfig kafka, String nodeId, Clock clock, MeterRegistry meters, LoopWatch watch,
                   Function<Map<String, Object>, Producer<String, byte[]>> producers) {
        this.nodeId = nodeId;
        this.topic = kafka.eventsTopic();
        this.clock = clock;
        this.buffer = new LinkedBlockingDeque<>(kafka.bufferEvents());
        this.outage = new KafkaOutage(kafka.bootstrapServers(), kafka.bufferEvents());
        Map<String, Object> props = kafka.clientProperties("sluice-events-" + nodeId);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 2_000);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 2_000);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        this.producer = producers.apply(props);
        FunctionCounter.builder("sluice.events.dropped", dropped, LongAdder::sum)
                .description("Events dropped because the buffer was full while Kafka was unreachable, since start")
                .register(meters);
        Gauge.builder("sluice.events.buffered", buffer, BlockingDeque::size)
                .description("Events waiting to be sent to Kafka").register(meters);
        FunctionCounter.builder("sluice.events.sent", sent, LongAdder::sum)
                .description("Events sent to Kafka, since start").register(meters);
        this.loop = watch.register("event-sender", Duration.ofSeconds(5), () -> holding || !buffer.isEmpty());
        this.sender = Thread.ofPlatform().name("sluice-events").daemon()
                .uncaughtExceptionHandler(watch.uncaughtHandler()).start(() -> {
                    boolean ended = false;
                    try {
                        Loops.restarting("event-sender", this::run);
                        ended = true;
                        loop.stopped();
                    } finally {
                        if (!ended) {
                            loop.died();
                        }
                    }
                });
    }

    /** Queues an event; never blocks. Returns false when the buffer was full and the event was dropped. */
    @Override
    public boolean publish(EventPayload payload) {
        // The sequence is taken and the event queued in one step: two threads publishing at once (two jobs
        // dead-lettered together) must not queue 3 before 2, which the coordinator would take for a restart.
        synchronized (order) {
            Event event = new Event(EventCodec.VERSION, nodeId, clock.millis(), sequence.incrementAndGet(), payload);
            if (!buffer.offerLast(event)) {
                dropped.increment();
                return false;
            }
            return true;
        }
    }

    /** Events dropped since start. */
    @Override
    public long dropped() {
        return dropped.sum();
    }

    /** Events acknowledged by Kafka since start. */
    public long sent() {
        return sent.sum();
    }

    /** Events waiting to be sent. */
    public int buffered() {
        return buffer.size();
    }

    private void run() {
        RetryDelay delay = new RetryDelay(Duration.ofMillis(100), Duration.ofSeconds(5));
        while (running || !buffer.isEmpty()) {
            loop.tick();
            noticeSilence();
            Event event;
            try {
                event = buffer.pollFirst(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (event == null) {
                continue;
            }
            holding = true;
            long sentAt = clock.millis();
            if (unacknowledged.getAndIncrement() == 0) {
                lastAnswerMillis = sentAt;
            }
            try {
                // Without metadata within max.block.ms (Kafka unreachable) the producer calls back with the error.
                producer.send(new ProducerRecord<>(topic, nodeId, EventCodec.encode(event)), (metadata, error) -> {
                    int waitingForAnswers = unacknowledged.decrementAndGet();
                    if (error == null) {
                        sent.increment();
                        lastAnswerMillis = clock.millis();
                        outage.ended(lastAnswerMillis, dropped.sum(), 1L + buffer.size() + waitingForAnswers);
                    } else {
                        sendFailures.increment();
                        requeue(event);
                        outage.began(sentAt, describe(error), dropped.sum());
                    }
                });
                delay.reset();
            } catch (RuntimeException e) {
                // The producer refused the event outright: keep it.
                unacknowledged.decrementAndGet();
                sendFailures.increment();
                requeue(event);
                outage.began(sentAt, describe(e), dropped.sum());
                if (!running) {
                    return;
                }
                Duration pause = delay.next();
                log.debug("event not sent ({}); retrying in {} ms", e.toString(), pause.toMillis());
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            } finally {
                holding = false;
            }
        }
    }

    /** Starts an outage when sent events have waited {@value #UNANSWERED_MS} ms without any acknowledgement. */
    private void noticeSilence() {
        if (unacknowledged.get() > 0) {
            long since = lastAnswerMillis;
            long silentMs = clock.millis() - since;
            if (silentMs >= UNANSWERED_MS && !outage.isOn()) {
                outage.began(since, unacknowledged.get() + " sent event(s) without an acknowledgement for "
                        + silentMs / 1000 + " s", dropped.sum());
            }
        }
    }

    /** What the producer said, in its words (no exception class: the node's log stays free of "Exception"). */
    private static String describe(Throwable error) {
        String kind = error.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2")
                .toLowerCase(java.util.Locale.ROOT);
        return error.getMessage() == null ? kind : error.getMessage() + " (" + kind + ")";
    }

    private void requeue(Event event) {
        if (!buffer.offerFirst(event)) {
            dropped.increment();
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            sender.join(3_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.interrupt();
        producer.close(Duration.ofSeconds(3));
        if (!buffer.isEmpty()) {
            log.info("{} event(s) not published at shutdown", buffer.size());
        }
    }
}
