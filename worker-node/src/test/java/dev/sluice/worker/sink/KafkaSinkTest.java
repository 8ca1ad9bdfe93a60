package dev.sluice.worker.sink;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.KafkaConfig;
import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import dev.sluice.testkit.KafkaExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The Kafka sink turns the producer's failures into the job's failure kind where they happen, on a real broker. */
class KafkaSinkTest {

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private static KafkaConfig config(String bootstrap) {
        return ConfigLoader.parse("", Map.of("SLUICE_KAFKA_BOOTSTRAP_SERVERS", bootstrap)).kafka();
    }

    private static Job job(String key) {
        return Job.of(key);
    }

    @Test
    void aResultLargerThanTheProducerTakesIsABadJobNotASinkOutage() throws InterruptedException {
        String topic = "results-" + UUID.randomUUID();
        kafka.broker().createTopic(topic, 1);
        try (KafkaSink sink = new KafkaSink(config(kafka.bootstrapServers()), topic, "test-sink")) {
            sink.write(job("small"), new byte[1024]);
            SluiceException failure = catchThrowableOfType(SluiceException.class,
                    () -> sink.write(job("huge"), new byte[2 * 1024 * 1024]));
            assertThat(failure.kind()).isEqualTo(ErrorKind.BAD_JOB);
            assertThat(failure).hasMessageContaining("huge").hasMessageContaining(topic);
            assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.BAD_JOB);
        }
    }

    @Test
    void anUnreachableBrokerIsASinkFailure() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        try (KafkaSink sink = new KafkaSink(config("127.0.0.1:" + closed), "results", "test-sink")) {
            SluiceException failure = catchThrowableOfType(SluiceException.class,
                    () -> sink.write(job("j1"), new byte[10]));
            assertThat(failure.kind()).isEqualTo(ErrorKind.SINK_FAILURE);
            assertThat(failure).hasMessageContaining("j1");
        }
    }
}
