package dev.sluice.coordinator.store;

import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertCodec;
import dev.sluice.coordinator.alerting.AlertListener;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The alerts topic: compacted, keyed by fingerprint, each record an alert's latest state (firing or resolved, as
 * {@link AlertCodec} JSON); a resolved alert past its retention gets a tombstone. Pending alerts are not written.
 *
 * <p>As an {@link AlertListener} it never blocks the engine: records wait in a map by fingerprint (a newer state
 * replaces one not yet sent) and a background thread sends them; a send that fails is queued again unless a newer
 * state of that alert has come since. {@link #readAll(Map, String, Duration)} reads the topic to its end, for a restarting coordinator.
 */
public final class AlertTopic implements AlertListener, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AlertTopic.class);
    private static final Duration RETRY_PAUSE = Duration.ofSeconds(1);
    private static final String WRITES_HELP = "Alert transitions written to the alerts topic, by outcome";

    private final String topic;
    private final KafkaProducer<String, byte[]> producer;
    /** A state to write, numbered so a failed older write never overtakes a newer one. */
    private record Pending(long version, Optional<Alert> value) {
    }

    private final Map<String, Pending> queued = new LinkedHashMap<>();
    private final Map<String, Long> newest = new HashMap<>();
    private long versions;
    private final Counter written;
    private final Counter failed;
    private final Thread sender;
    private boolean closing;
    private int inFlight;

    /**
     * @param clientConfig  bootstrap servers and client properties
     * @param topic         the alerts topic
     */
    public AlertTopic(Map<String, Object> clientConfig, String topic, MeterRegistry meters) {
        this.topic = topic;
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        config.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "sluice-coordinator-alerts");
        config.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
        config.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        this.producer = new KafkaProducer<>(config);
        this.written = Counter.builder("sluice.coordinator.alerts.topic.writes").description(WRITES_HELP).tag("outcome", "ok").register(meters);
        this.failed = Counter.builder("sluice.coordinator.alerts.topic.writes").description(WRITES_HELP).tag("outcome", "failed").register(meters);
        this.sender = Thread.ofVirtual().name("sluice-alerts-topic").start(this::send);
    }

    @Override
    public void onTransitions(List<AlertTransition> transitions) {
        synchronized (this) {
            for (AlertTransition t : transitions) {
                if (t.to() == AlertState.FIRING || t.to() == AlertState.RESOLVED) {
                    enqueue(t.alert().fingerprint(), Optional.of(t.alert()));
                }
            }
            notifyAll();
        }
    }

    @Override
    public void onExpired(Alert alert) {
        synchronized (this) {
            enqueue(alert.fingerprint(), Optional.empty());
            notifyAll();
        }
    }

    private void enqueue(String key, Optional<Alert> value) {
        long version = ++versions;
        newest.put(key, version);
        queued.remove(key);
        queued.put(key, new Pending(version, value));
    }

    private void send() {
        while (true) {
            Map.Entry<String, Pending> next;
            synchronized (this) {
                while (queued.isEmpty() && !closing) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (queued.isEmpty()) {
                    return;
                }
                var it = queued.entrySet().iterator();
                next = it.next();
                it.remove();
                inFlight++;
            }
            String key = next.getKey();
            Pending pending = next.getValue();
            try {
                producer.send(new ProducerRecord<>(topic, key, pending.value().map(AlertCodec::encode).orElse(null)),
                        (metadata, error) -> done(key, pending, error));
            } catch (KafkaException e) {
                done(key, pending, e);
                pauseAfterFailure();
            }
        }
    }

    private void done(String key, Pending pending, Exception error) {
        synchronized (this) {
            inFlight--;
            if (error == null) {
                written.increment();
                if (isNewest(key, pending)) {
                    newest.remove(key);
                }
            } else {
                failed.increment();
                // Retried only while it is still the newest state of its alert.
                if (!closing && isNewest(key, pending)) {
                    log.warn("writing alert {} to {} failed, will retry: {}", key, topic, error.toString());
                    queued.putIfAbsent(key, pending);
                }
            }
            notifyAll();
        }
    }

    private boolean isNewest(String key, Pending pending) {
        Long version = newest.get(key);
        return version != null && version == pending.version();
    }

    private void pauseAfterFailure() {
        try {
            Thread.sleep(RETRY_PAUSE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until everything queued so far has been written (or failed); for tests and shutdown. */
    public boolean flush(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        producer.flush();
        synchronized (this) {
            while (!queued.isEmpty() || inFlight > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return true;
    }

    /** Sends what is queued (waiting at most a few seconds) and closes the producer. */
    @Override
    public void close() {
        synchronized (this) {
            closing = true;
            notifyAll();
        }
        try {
            sender.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(5));
    }

    /**
     * Reads the alerts topic from its beginning to its end (as it was when reading began) and returns the latest
     * readable state of every fingerprint that has not been deleted.
     *
     * @throws IllegalStateException when the end is not reached within {@code timeout}
     */
    public static List<Alert> readAll(Map<String, Object> clientConfig, String topic, Duration timeout) {
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "sluice-coordinator-alerts-reader");
        Map<String, Alert> latest = new LinkedHashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic, timeout)) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            int unreadable = 0;
            while (!reached(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read alerts topic " + topic + " to its end " + end
                            + " within " + timeout);
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.key() == null) {
                        continue;
                    }
                    if (record.value() == null) {
                        latest.remove(record.key());
                        continue;
                    }
                    Optional<Alert> alert = AlertCodec.decode(record.value());
                    if (alert.isPresent()) {
                        latest.put(record.key(), alert.get());
                    } else {
                        unreadable++;
                    }
                }
            }
            if (unreadable > 0) {
                log.warn("skipped {} unreadable records on {}", unreadable, topic);
            }
        }
        return List.copyOf(latest.values());
    }

    private static boolean reached(KafkaConsumer<String, byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }
}
