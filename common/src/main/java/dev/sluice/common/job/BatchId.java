package dev.sluice.common.job;

import org.jspecify.annotations.Nullable;

import java.util.regex.Pattern;

/** What a backfill's id may be: it names Redis keys and shows on the dashboard, so it is short and plain. */
public final class BatchId {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    private BatchId() {
    }

    public static boolean valid(@Nullable String id) {
        return id != null && ID.matcher(id).matches();
    }

    /** The rule, said about {@code id}. */
    public static String rule(@Nullable String id) {
        return "a backfill id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, but was '"
                + id + "'";
    }
}
