package dev.sluice.common.config;

/** {@code retry.jitter}: how a retry's delay is drawn below its cap. */
public enum Jitter implements Choice {
    /** Uniform in [0, cap]. */
    FULL,
    /** Uniform in [cap/2, cap]. */
    EQUAL,
    /** The cap itself. */
    NONE
}
