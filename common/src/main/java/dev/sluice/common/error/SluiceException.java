package dev.sluice.common.error;

import org.jspecify.annotations.Nullable;

import java.io.Serial;
import java.time.Duration;
import java.util.Optional;

/** A failure already classified where it happened. */
public class SluiceException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final ErrorKind kind;
    private final transient @Nullable Duration retryAfter;
    private final boolean attempted;

    public SluiceException(ErrorKind kind, String message) {
        this(kind, message, null, null);
    }

    public SluiceException(ErrorKind kind, String message, @Nullable Throwable cause) {
        this(kind, message, cause, null);
    }

    public SluiceException(ErrorKind kind, String message, @Nullable Throwable cause,
                           @Nullable Duration retryAfter) {
        this(kind, message, cause, retryAfter, true);
    }

    private SluiceException(ErrorKind kind, String message, @Nullable Throwable cause, @Nullable Duration retryAfter,
                            boolean attempted) {
        super(message, cause);
        this.kind = kind;
        this.retryAfter = retryAfter;
        this.attempted = attempted;
    }

    /**
     * A failure before the job's real work began: waiting for the breaker, a permit or a rate token. Retried without
     * counting an attempt.
     */
    public static SluiceException notAttempted(ErrorKind kind, String message, @Nullable Duration retryAfter) {
        return new SluiceException(kind, message, null, retryAfter, false);
    }

    /** False when the failure came before the handler's real work (see {@link #notAttempted}). */
    public boolean attempted() {
        return attempted;
    }

    public ErrorKind kind() {
        return kind;
    }

    /** A delay the failing party asked for (a 429's Retry-After), if any. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
