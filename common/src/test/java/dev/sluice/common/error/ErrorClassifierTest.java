package dev.sluice.common.error;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The rules that need no client library. Each adapter's own exceptions are tested with it, against the real client:
 * {@code RedisErrorsTest}, {@code HubErrorsTest} and {@code KafkaSinkTest} in the worker node.
 */
class ErrorClassifierTest {

    @Test
    void unparsableJsonIsBadJob() {
        Throwable failure = catchThrowable(() -> new ObjectMapper().readTree("{\"key\": "));
        assertThat(ErrorClassifier.classify(failure)).isEqualTo(ErrorKind.BAD_JOB);
    }

    @Test
    void rejectedExecutionIsBackpressure() {
        assertThat(ErrorClassifier.classify(new RejectedExecutionException("full"))).isEqualTo(ErrorKind.BACKPRESSURE);
    }

    @Test
    void classifiedExceptionKeepsItsKindThroughWrappers() {
        SluiceException sinkDown = new SluiceException(ErrorKind.SINK_FAILURE, "sink down");
        assertThat(ErrorClassifier.classify(new CompletionException(new ExecutionException(sinkDown))))
                .isEqualTo(ErrorKind.SINK_FAILURE);
    }

    @Test
    void anythingElseIsInternal() {
        assertThat(ErrorClassifier.classify(new IllegalStateException("bug"))).isEqualTo(ErrorKind.INTERNAL);
        assertThat(ErrorClassifier.classify(new NullPointerException())).isEqualTo(ErrorKind.INTERNAL);
    }

    @Test
    void aBareIOExceptionIsNotTakenForTheHubs() {
        assertThat(ErrorClassifier.classify(new IOException("disk full"))).isEqualTo(ErrorKind.INTERNAL);
    }

    @Test
    void anAdaptersTranslatorIsAskedOfEachCauseAfterTheKindsAlreadyGiven() {
        class ClientFailure extends RuntimeException {
            ClientFailure(String message, Throwable cause) {
                super(message, cause);
            }
        }
        ErrorClassifier.Translator client = t -> t instanceof ClientFailure ? ErrorKind.REDIS_UNAVAILABLE : null;
        assertThat(ErrorClassifier.classify(new CompletionException(new ClientFailure("down", null)), client))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
        assertThat(ErrorClassifier.classify(new ClientFailure("down", null))).isEqualTo(ErrorKind.INTERNAL);
        assertThat(ErrorClassifier.classify(new SluiceException(ErrorKind.SINK_FAILURE, "sink", new ClientFailure("x", null)),
                client)).isEqualTo(ErrorKind.SINK_FAILURE);
        assertThat(ErrorClassifier.classify(new IllegalStateException("wrapped", new ClientFailure("down", null)), client))
                .isEqualTo(ErrorKind.REDIS_UNAVAILABLE);
    }

    @Test
    void aCauseChainThatLoopsEnds() {
        RuntimeException a = new RuntimeException("a");
        RuntimeException b = new RuntimeException("b", a);
        a.initCause(b);
        assertThat(ErrorClassifier.classify(a)).isEqualTo(ErrorKind.INTERNAL);
    }
}
