package dev.sluice.common.config;

import java.util.Locale;

/**
 * A value of a closed set that a configuration key takes: an enum constant, written in configuration files, the
 * environment, events and JSON as its name in lower case with '-' for '_' ({@code FAIL_CLOSED} is
 * {@code fail-closed}). Code switches over the constants and never compares strings.
 */
public interface Choice {

    /** The constant's name. */
    String name();

    /** The name users write. */
    default String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
