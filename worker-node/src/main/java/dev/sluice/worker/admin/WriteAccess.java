package dev.sluice.worker.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;

/**
 * Guards endpoints that change state. The admin endpoints are read-only unless {@code [metrics] token} is set and
 * the request presents it as {@code Authorization: Bearer <token>}; with no token configured, nothing may change
 * state. Tokens are compared in constant time.
 */
final class WriteAccess {

    /** The outcome of a check and the HTTP status to answer when it is not {@link #ALLOWED}. */
    enum Decision {
        ALLOWED(200),
        /** No token is configured: the endpoints are read-only. */
        DISABLED(403),
        /** No bearer credentials in the request. */
        MISSING(401),
        /** Bearer credentials that do not match. */
        WRONG(401);

        final int status;

        Decision(int status) {
            this.status = status;
        }
    }

    private static final String SCHEME = "bearer ";

    private final byte[] token;

    WriteAccess(String token) {
        this.token = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    boolean enabled() {
        return token != null;
    }

    /** Checks the value of a request's {@code Authorization} header (null when absent). */
    Decision check(String authorization) {
        if (token == null) {
            return Decision.DISABLED;
        }
        if (authorization == null || authorization.length() <= SCHEME.length()
                || !authorization.substring(0, SCHEME.length()).toLowerCase(Locale.ROOT).equals(SCHEME)) {
            return Decision.MISSING;
        }
        byte[] presented = authorization.substring(SCHEME.length()).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(presented, token) ? Decision.ALLOWED : Decision.WRONG;
    }
}
