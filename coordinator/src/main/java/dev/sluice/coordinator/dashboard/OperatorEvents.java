package dev.sluice.coordinator.dashboard;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.common.event.EventPayload;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Publishes the operators' changes made through the coordinator on the events topic, as {@code operator-action}
 * events of the node id {@code coordinator}, with who and when. Sending never holds up the operation: with Kafka down
 * an event waits in the producer's buffer for a while and is then dropped, said once per outage; the audit stream in
 * Redis has every change either way.
 */
public final class OperatorEvents implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OperatorEvents.class);

    private final Map<String, Object> config;
    private KafkaProducer<String, byte[]> producer;
    private boolean closed;
    private final String topic;
    private final Clock clock;
    private final AtomicLong sequence = new AtomicLong();
    private volatile boolean failing;

    public OperatorEvents(Map<String, Object> kafkaClient, String topic, Clock clock) {
        Map<String, Object> config = new HashMap<>(kafkaClient);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 1_000);
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000);
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        config.put(ProducerConfig.CLIENT_ID_CONFIG, "sluice-coordinator-operator-events");
        this.config = config;
        this.topic = topic;
        this.clock = clock;
    }

    /** Publishes one change, in the background. */
    public void publish(String by, String action, String detail) {
        long now = clock.millis();
        Event event = new Event(EventCodec.VERSION, EventPayload.OperatorAction.SOURCE, now, sequence.incrementAndGet(),
                new EventPayload.OperatorAction(by, action, detail, now));
        Thread.ofVirtual().name("sluice-operator-event").start(() -> {
            try {
                KafkaProducer<String, byte[]> p = producer();
                if (p == null) {
                    return;
                }
                p.send(new ProducerRecord<>(topic, EventPayload.OperatorAction.SOURCE, EventCodec.encode(event)),
                        (meta, e) -> result(action, e));
            } catch (RuntimeException e) {
                result(action, e);
            }
        });
    }

    /** The producer, made at the first change (a coordinator that nobody operates opens no connection for it). */
    private synchronized KafkaProducer<String, byte[]> producer() {
        if (producer == null && !closed) {
            producer = new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer());
        }
        return producer;
    }

    private void result(String action, Exception e) {
        if (e == null) {
            if (failing) {
                log.info("operator events reach Kafka again");
                failing = false;
            }
        } else if (!failing) {
            failing = true;
            log.warn("an operator-action event ({}) could not be published on {}: {}; the audit stream in Redis has it",
                    action, topic, e.toString());
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (producer != null) {
            producer.close(Duration.ofSeconds(2));
        }
    }
}
