package dev.sluice.worker.limits.fleet;

import java.io.Serial;

/** The fleet limiter's store could not be used, or may not be used now; the message says why. */
final class StoreFailure extends Exception {
    @Serial
    private static final long serialVersionUID = 1L;

    StoreFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
