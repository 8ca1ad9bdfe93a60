package dev.sluice.coordinator;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A worker node as the coordinator sees it: events on the events topic, keyed by its id, sent with a real Kafka
 * producer; a heartbeat every interval until {@link #silence() silenced} (as if SIGKILLed).
 */
public final class FakeNode implements AutoCloseable {

    private final TestEvents events;
    private final String topic;
    private final Duration interval;
    private final KafkaProducer<String, byte[]> producer;
    private volatile boolean beating;
    private volatile boolean closed;
    private final Thread heart;

    public FakeNode(String id, String bootstrapServers, String topic, Duration interval) {
        this.events = new TestEvents(id).intervalMs(interval.toMillis());
        this.topic = topic;
        this.interval = interval;
        this.producer = producer(bootstrapServers);
        this.heart = Thread.ofVirtual().name("fake-node-" + id).unstarted(this::beat);
    }

    public static KafkaProducer<String, byte[]> producer(String bootstrapServers) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
    }

    public String id() {
        return events.node();
    }

    /** Sends node-started and starts heartbeating. */
    public FakeNode start() {
        send(e -> e.started(System.currentTimeMillis()));
        beating = true;
        heart.start();
        return this;
    }

    private void beat() {
        while (!closed) {
            if (beating) {
                // Not waiting for Kafka: while it is down, heartbeats wait in the producer as a node's would.
                Event event;
                synchronized (this) {
                    event = events.heartbeat(System.currentTimeMillis());
                }
                try {
                    producer.send(new ProducerRecord<>(topic, event.nodeId(), EventCodec.encode(event)));
                } catch (InterruptException e) {
                    return;
                }
            }
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Changes what the next heartbeats report. */
    public synchronized void change(Consumer<TestEvents> change) {
        change.accept(events);
    }

    /** Sends one event built from the node's current state, and waits until Kafka has it. */
    public void send(Function<TestEvents, Event> build) {
        Event event;
        synchronized (this) {
            event = build.apply(events);
        }
        try {
            producer.send(new ProducerRecord<>(topic, event.nodeId(), EventCodec.encode(event))).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            if (!closed) {
                throw new IllegalStateException("could not send " + event, e);
            }
        }
    }

    /** Stops heartbeating without a word, as a SIGKILLed node would. */
    public void silence() {
        beating = false;
    }

    /** Heartbeats again (the node is back). */
    public void resume() {
        beating = true;
    }

    @Override
    public void close() {
        closed = true;
        heart.interrupt();
        try {
            heart.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(5));
    }
}
