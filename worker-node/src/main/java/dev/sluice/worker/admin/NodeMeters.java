package dev.sluice.worker.admin;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.lang.management.ManagementFactory;

/**
 * The registry a worker process serves at {@code GET /metrics}: the JVM's memory, threads, processor and uptime
 * meters, named so that {@code promtool check metrics} finds nothing to object to. Micrometer's processor binder
 * names two of them against the Prometheus conventions, so here:
 * <ul>
 *   <li>the process's CPU time is {@code process_cpu_seconds_total} (seconds, the name Prometheus' own clients use)
 *       instead of {@code process_cpu_time_ns_total} (an abbreviated unit);</li>
 *   <li>the processor count is {@code system_cpus} instead of {@code system_cpu_count} (a {@code _count} suffix
 *       belongs to histograms and summaries).</li>
 * </ul>
 */
public final class NodeMeters {
    static final String MICROMETER_CPU_TIME = "process.cpu.time";
    static final String MICROMETER_CPU_COUNT = "system.cpu.count";

    private NodeMeters() {
    }

    /** A Prometheus registry with the JVM's meters bound. */
    public static PrometheusMeterRegistry registry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config()
                .meterFilter(MeterFilter.deny(id -> id.getName().equals(MICROMETER_CPU_TIME)))
                .meterFilter(new MeterFilter() {
                    @Override
                    public Meter.Id map(Meter.Id id) {
                        return id.getName().equals(MICROMETER_CPU_COUNT) ? id.withName("system.cpus") : id;
                    }
                });
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                && os.getProcessCpuTime() >= 0) {
            FunctionCounter.builder("process.cpu", os, o -> o.getProcessCpuTime() / 1e9)
                    .description("CPU time used by the Java virtual machine process")
                    .baseUnit("seconds")
                    .register(registry);
        }
        return registry;
    }
}
