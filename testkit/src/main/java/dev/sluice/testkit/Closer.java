package dev.sluice.testkit;

import java.util.ArrayList;
import java.util.List;

/**
 * What a test opened, closed in reverse order when the test ends: declare a field
 * {@code @AutoClose final Closer closer = new Closer();} and wrap each resource in {@link #add}.
 *
 * <p>It closes any {@link AutoCloseable}, so its {@code close} throws what theirs do ({@code Exception}, which javac's
 * {@code try} lint flags for possibly being an {@code InterruptedException}).
 */
@SuppressWarnings("try")
public final class Closer implements AutoCloseable {
    private final List<AutoCloseable> resources = new ArrayList<>();

    /** Registers {@code resource} to be closed after everything registered later; returns it. */
    public synchronized <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }

    /** Closes everything registered, last first; the first failure is thrown after all were tried. */
    @Override
    public synchronized void close() throws Exception {
        Exception first = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        resources.clear();
        if (first != null) {
            throw first;
        }
    }
}
