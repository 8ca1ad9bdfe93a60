package dev.sluice.adminhttp;

import org.jspecify.annotations.Nullable;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link Access} by {@code Authorization: Bearer <token>}, against named tokens compared in constant time (every
 * token is compared, so the time does not tell which one came close). With no token configured every operation is
 * refused (403) with the configured explanation; a request without bearer credentials, or with a token that is none
 * of them, gets 401.
 */
public final class BearerTokens implements Access {
    private static final String SCHEME = "bearer ";

    private final Map<String, byte[]> tokens = new LinkedHashMap<>();
    private final String off;

    /**
     * @param tokens tokens by the name an audit records; empty: operations are off
     * @param off    what a request is told when operations are off, naming the setting that turns them on
     */
    public BearerTokens(Map<String, String> tokens, String off) {
        tokens.forEach((name, token) -> {
            if (!token.isEmpty()) {
                this.tokens.put(name, token.getBytes(StandardCharsets.UTF_8));
            }
        });
        this.off = off;
    }

    /** One token (none when null or empty) named {@code name}. */
    public static BearerTokens single(String name, @Nullable String token, String off) {
        return new BearerTokens(token == null ? Map.of() : Map.of(name, token), off);
    }

    /** Whether any token is configured. */
    public boolean enabled() {
        return !tokens.isEmpty();
    }

    @Override
    public Verdict check(@Nullable String authorization) {
        if (tokens.isEmpty()) {
            return Verdict.refused(403, off);
        }
        if (authorization == null || authorization.length() <= SCHEME.length()
                || !authorization.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            return Verdict.refused(401, "this operation changes state: present Authorization: Bearer <token>");
        }
        byte[] given = authorization.substring(SCHEME.length()).strip().getBytes(StandardCharsets.UTF_8);
        String found = null;
        for (Map.Entry<String, byte[]> t : tokens.entrySet()) {
            if (MessageDigest.isEqual(given, t.getValue())) {
                found = t.getKey();
            }
        }
        return found == null ? Verdict.refused(401, tokens.size() == 1 ? "the bearer token is not the configured one"
                : "the bearer token is not one of the configured ones") : Verdict.allowed(found);
    }
}
