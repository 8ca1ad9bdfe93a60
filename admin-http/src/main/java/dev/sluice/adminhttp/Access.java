package dev.sluice.adminhttp;

import org.jspecify.annotations.Nullable;

/** Who may run operations: decides on a request's {@code Authorization} header. */
@FunctionalInterface
public interface Access {

    /**
     * The verdict on a request's {@code Authorization} header value (null when absent).
     */
    Verdict check(@Nullable String authorization);

    /**
     * Allowed, with who asked; or refused, with the HTTP status and why. A 401 carries a bearer challenge.
     *
     * @param who     the caller's name, null when refused
     * @param status  200 when allowed, else 401 or 403
     * @param message why not, "" when allowed
     */
    record Verdict(@Nullable String who, int status, String message) {
        public static Verdict allowed(String who) {
            return new Verdict(who, 200, "");
        }

        public static Verdict refused(int status, String message) {
            return new Verdict(null, status, message);
        }
    }
}
