package dev.sluice.worker.handler;

import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/** The handlers on the class path, by type. Two handlers claiming one type is a configuration error. */
public final class HandlerRegistry {
    private final Map<String, JobHandler> byType;
    private final Set<String> types;

    private HandlerRegistry(Map<String, JobHandler> byType) {
        this.byType = Map.copyOf(byType);
        this.types = Collections.unmodifiableSortedSet(new TreeSet<>(byType.keySet()));
    }

    /** Every {@link JobHandler} that {@link ServiceLoader} finds. */
    public static HandlerRegistry load(ClassLoader loader) {
        return of(ServiceLoader.load(JobHandler.class, loader).stream().map(ServiceLoader.Provider::get).toList());
    }

    public static HandlerRegistry of(Collection<JobHandler> handlers) {
        Map<String, JobHandler> byType = new TreeMap<>();
        for (JobHandler h : handlers) {
            JobHandler previous = byType.putIfAbsent(h.type(), h);
            if (previous != null) {
                throw new IllegalStateException("two handlers claim job type '" + h.type() + "': "
                        + previous.getClass().getName() + " and " + h.getClass().getName());
            }
        }
        return new HandlerRegistry(byType);
    }

    /** The handler for {@code type}, or null. */
    public JobHandler find(String type) {
        return byType.get(type);
    }

    /** The types handled, sorted. */
    public Set<String> types() {
        return types;
    }
}
