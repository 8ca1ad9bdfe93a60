package dev.sluice.worker.cli;

import dev.sluice.common.config.ConfigException;

/** The exit statuses of {@code sluice}. */
public final class ExitCodes {
    /** Done. */
    public static final int OK = 0;
    /** Something failed at run time: Redis unreachable, a port in use, dead letters not found. */
    public static final int FAILURE = 1;
    /** The command line or its input is wrong: unknown option, bad range, unreadable keys file, invalid key. */
    public static final int USAGE = 2;
    /** The configuration is wrong (sysexits' EX_CONFIG). */
    public static final int CONFIG = ConfigException.EXIT_CODE;

    private ExitCodes() {
    }
}
