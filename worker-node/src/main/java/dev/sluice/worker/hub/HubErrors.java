package dev.sluice.worker.hub;

import com.fasterxml.jackson.core.JacksonException;
import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;

/**
 * What a failed Hub request means: a request, connect or read that ran out of time is {@link ErrorKind#HUB_TIMEOUT};
 * any other I/O failure of the HTTP client (refused, reset, closed mid-answer) is {@link ErrorKind#HUB_UNAVAILABLE}.
 */
final class HubErrors {

    private HubErrors() {
    }

    static ErrorKind classify(Throwable failure) {
        return ErrorClassifier.classify(failure, HubErrors::kindOf);
    }

    private static ErrorKind kindOf(Throwable t) {
        if (t instanceof HttpTimeoutException || t instanceof SocketTimeoutException) {
            return ErrorKind.HUB_TIMEOUT;
        }
        if (t instanceof IOException && !(t instanceof JacksonException)) {
            return ErrorKind.HUB_UNAVAILABLE;
        }
        return null;
    }
}
