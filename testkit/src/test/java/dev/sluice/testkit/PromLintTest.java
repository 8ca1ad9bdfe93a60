package dev.sluice.testkit;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PromLintTest {

    @Test
    void aCleanScrapeHasNoProblems() {
        assertThat(PromLint.problems("""
                # HELP sluice_jobs_total Jobs completed
                # TYPE sluice_jobs_total counter
                sluice_jobs_total{outcome="done",kind="none"} 3.0
                # HELP sluice_fetch_seconds Time of one fetch
                # TYPE sluice_fetch_seconds summary
                sluice_fetch_seconds_count 2.0
                sluice_fetch_seconds_sum 0.1
                # HELP system_load_average_1m The load average
                # TYPE system_load_average_1m gauge
                system_load_average_1m 0.5
                """)).isEmpty();
    }

    @Test
    void reportsWhatPromtoolReports() {
        // The findings of promtool 2.42 on the worker's /metrics before they were fixed.
        assertThat(PromLint.problems("""
                # HELP process_cpu_time_ns_total The "cpu time" used by the Java Virtual Machine process
                # TYPE process_cpu_time_ns_total counter
                process_cpu_time_ns_total 9.78E9
                # HELP sluice_queue_oldest_waiting_age_ms
                # TYPE sluice_queue_oldest_waiting_age_ms gauge
                sluice_queue_oldest_waiting_age_ms 12.0
                # HELP system_cpu_count The number of processors available to the Java virtual machine
                # TYPE system_cpu_count gauge
                system_cpu_count 2.0
                # TYPE sluice_hub_requests gauge
                sluice_hub_requests{nodeId="a"} 7.0
                # HELP sluice_wait_milliseconds Wait
                # TYPE sluice_wait_milliseconds gauge
                sluice_wait_milliseconds 1.0
                # HELP sluice_things Things
                # TYPE sluice_things counter
                sluice_things 1.0
                # HELP sluice_hub_timeouts Hub requests that timed out, since start
                # TYPE sluice_hub_timeouts gauge
                sluice_hub_timeouts 3.0
                # HELP sluice_hub_requests_total Requests sent to the Hub, since start
                # TYPE sluice_hub_requests_total counter
                sluice_hub_requests_total 7.0
                """)).containsExactlyInAnyOrder(
                "sluice_hub_timeouts counts since start but is a gauge: a count that only goes up is a counter",
                "sluice_hub_requests label names should be written in 'snake_case' not 'camelCase': nodeId",
                "process_cpu_time_ns_total metric names should not contain abbreviated units",
                "sluice_queue_oldest_waiting_age_ms no help text",
                "sluice_queue_oldest_waiting_age_ms metric names should not contain abbreviated units",
                "system_cpu_count non-histogram and non-summary metrics should not have \"_count\" suffix",
                "sluice_hub_requests no help text",
                "sluice_wait_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
                "sluice_things counter metrics should have \"_total\" suffix");
    }
}
