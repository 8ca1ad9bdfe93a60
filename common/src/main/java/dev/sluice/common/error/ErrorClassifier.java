package dev.sluice.common.error;

import com.fasterxml.jackson.core.JacksonException;
import org.jspecify.annotations.Nullable;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * Maps a failure onto {@link ErrorKind} by walking its cause chain from the outside in; the first exception that
 * says something specific decides, and wrappers such as {@link CompletionException} are looked through.
 *
 * <p>This class knows no client library. A {@link SluiceException} carries its own kind, given where the failure
 * happened by the adapter that knows its client (the Redis pool, the Hub client, the Kafka sink); an adapter that
 * must classify a client's exception it did not throw itself passes its {@link Translator}. What nobody recognises
 * is {@link ErrorKind#INTERNAL}: a bare {@link java.io.IOException} is not taken for the Hub's.
 */
public final class ErrorClassifier {

    /** An adapter's view of its own client's exceptions. */
    @FunctionalInterface
    public interface Translator {
        /** The kind of {@code t}, or null when {@code t} says nothing (the walk goes on to its cause). */
        @Nullable ErrorKind kindOf(Throwable t);

        /** This translator's kind, else {@code other}'s. */
        default Translator or(Translator other) {
            return t -> {
                ErrorKind kind = kindOf(t);
                return kind != null ? kind : other.kindOf(t);
            };
        }
    }

    private static final Translator NONE = t -> null;

    /** How deep a cause chain is walked: a chain can loop (a caused by b caused by a). */
    private static final int MAX_DEPTH = 32;

    private ErrorClassifier() {
    }

    public static ErrorKind classify(Throwable failure) {
        return classify(failure, NONE);
    }

    public static ErrorKind classify(Throwable failure, Translator adapter) {
        int depth = 0;
        for (@Nullable Throwable t = failure; t != null && depth++ < MAX_DEPTH; t = t.getCause()) {
            ErrorKind kind = classifyOne(t, adapter);
            if (kind != null) {
                return kind;
            }
        }
        return ErrorKind.INTERNAL;
    }

    private static @Nullable ErrorKind classifyOne(Throwable t, Translator adapter) {
        if (t instanceof SluiceException s) {
            return s.kind();
        }
        if (t instanceof CompletionException || t instanceof ExecutionException) {
            return null;
        }
        ErrorKind kind = adapter.kindOf(t);
        if (kind != null) {
            return kind;
        }
        if (t instanceof JacksonException) {
            return ErrorKind.BAD_JOB;
        }
        if (t instanceof RejectedExecutionException) {
            return ErrorKind.BACKPRESSURE;
        }
        return null;
    }

    /** True when {@code t} or one of its causes is a {@code type}. */
    public static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        int depth = 0;
        for (@Nullable Throwable c = t; c != null && depth++ < MAX_DEPTH; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}
