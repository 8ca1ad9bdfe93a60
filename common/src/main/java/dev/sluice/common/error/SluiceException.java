package dev.sluice.common.error;

import java.io.Serial;
import java.time.Duration;
import java.util.Optional;

/** A failure already classified where it happened. */
public class SluiceException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    private final ErrorKind kind;
    private final transient Duration retryAfter;

    public SluiceException(ErrorKind kind, String message) {
        this(kind, message, null, null);
    }

    public SluiceException(ErrorKind kind, String message, Throwable cause) {
        this(kind, message, cause, null);
    }

    public SluiceException(ErrorKind kind, String message, Throwable cause, Duration retryAfter) {
        super(message, cause);
        this.kind = kind;
        this.retryAfter = retryAfter;
    }

    public ErrorKind kind() {
        return kind;
    }

    /** A delay the failing party asked for (a 429's Retry-After), if any. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
