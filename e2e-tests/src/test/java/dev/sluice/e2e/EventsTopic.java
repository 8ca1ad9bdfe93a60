package dev.sluice.e2e;

import dev.sluice.common.event.Event;
import dev.sluice.common.event.EventCodec;
import dev.sluice.testkit.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Reads the node events on the events topic, and writes raw records to it. */
final class EventsTopic {

    private EventsTopic() {
    }

    /** Every readable event on the topic, from its beginning to its current end. */
    static List<Event> read(String bootstrapServers, String topic) {
        List<Event> events = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : TopicReader.readAll(bootstrapServers, topic)) {
            if (EventCodec.decode(record.value()) instanceof EventCodec.Decoded.Ok ok) {
                events.add(ok.event());
            }
        }
        return events;
    }

    /** A record as it goes on the wire; {@code value} may be null. */
    record Raw(String key, byte[] value) {
    }

    /** Sends raw records and waits until Kafka has them all. */
    static void send(String bootstrapServers, String topic, List<Raw> records) {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()))) {
            for (Raw r : records) {
                producer.send(new ProducerRecord<>(topic, r.key(), r.value())).get(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("could not send to " + topic, e);
        }
    }
}
