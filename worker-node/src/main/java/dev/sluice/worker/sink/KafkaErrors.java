package dev.sluice.worker.sink;

import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RecordTooLargeException;

/**
 * What the Kafka producer's exceptions mean for a job: a result larger than the producer or the topic takes
 * ({@code max.request.size}, {@code max.message.bytes}) will never fit, so the job is bad ({@link ErrorKind#BAD_JOB},
 * dead-lettered); any other Kafka failure is the sink's ({@link ErrorKind#SINK_FAILURE}, retried).
 */
public final class KafkaErrors {

    /** Kafka's exceptions as kinds, for {@link ErrorClassifier#classify(Throwable, ErrorClassifier.Translator)}. */
    public static final ErrorClassifier.Translator TRANSLATOR = KafkaErrors::kindOf;

    private KafkaErrors() {
    }

    private static ErrorKind kindOf(Throwable t) {
        if (t instanceof RecordTooLargeException) {
            return ErrorKind.BAD_JOB;
        }
        return t instanceof KafkaException ? ErrorKind.SINK_FAILURE : null;
    }
}
