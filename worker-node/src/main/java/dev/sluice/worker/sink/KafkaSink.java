package dev.sluice.worker.sink;

import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;

/**
 * Writes each result as a record keyed by job id to {@code sink.target}. With a compacted topic, a job written
 * twice keeps one result; consumers read it idempotently by key. The producer is idempotent with acks=all.
 */
public final class KafkaSink implements ResultSink {
    private final KafkaProducer<String, byte[]> producer;
    private final String topic;

    public KafkaSink(KafkaConfig kafka, String topic, String clientId) {
        Map<String, Object> props = kafka.clientProperties(clientId);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        this.producer = new KafkaProducer<>(props);
        this.topic = topic;
    }

    @Override
    public void write(Job job, byte[] result) throws InterruptedException {
        try {
            producer.send(new ProducerRecord<>(topic, job.id(), result)).get();
        } catch (ExecutionException e) {
            throw failed(job, e.getCause());
        } catch (RuntimeException e) {
            throw failed(job, e);
        }
    }

    /** The job's failure, of the kind {@link KafkaErrors} gives; anything it does not know is the sink's. */
    private SluiceException failed(Job job, Throwable cause) {
        ErrorKind found = KafkaErrors.TRANSLATOR.kindOf(cause);
        ErrorKind kind = found != null ? found : ErrorKind.SINK_FAILURE;
        return new SluiceException(kind, "writing the result of " + job.id() + " to " + topic + " failed: " + cause,
                cause);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
