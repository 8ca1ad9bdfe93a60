package dev.sluice.common.job;

import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;

import java.io.Serial;

/** A job that cannot be parsed or is invalid; the message is the reason recorded with its dead letter. */
public final class BadJobException extends SluiceException {
    @Serial
    private static final long serialVersionUID = 1L;

    public BadJobException(String reason) {
        super(ErrorKind.BAD_JOB, reason);
    }

    public BadJobException(String reason, Throwable cause) {
        super(ErrorKind.BAD_JOB, reason, cause);
    }
}
