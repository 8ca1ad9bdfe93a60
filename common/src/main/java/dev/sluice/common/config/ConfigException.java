package dev.sluice.common.config;

import java.io.Serial;

/**
 * A configuration value that cannot be used. The message names the key, the value and the rule it broke, so an
 * operator can fix the file without reading code: {@code redis.pool_size must be between 1 and 1000, but was 0}.
 *
 * <p>Programs that load configuration exit with {@link #EXIT_CODE} when they catch it.
 */
public final class ConfigException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** Exit status of a program stopped by a bad configuration (sysexits' EX_CONFIG). */
    public static final int EXIT_CODE = 78;

    private final String key;
    private final String value;
    private final String rule;

    public ConfigException(String key, String value, String rule, String message) {
        super(message);
        this.key = key;
        this.value = value;
        this.rule = rule;
    }

    /**
     * The offending key, as {@code section.key}; the file for errors that concern the whole file; the environment
     * variable for one that names no key ({@code SLUICE_REDDIS_URL}).
     */
    public String key() {
        return key;
    }

    /** The offending value as written, or {@code null} when the problem is not a single value. */
    public String value() {
        return value;
    }

    /** The rule that was broken, in words. */
    public String rule() {
        return rule;
    }
}
