package dev.sluice.e2e;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.testkit.Alertmanager;
import dev.sluice.testkit.NodeProcess;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;

/**
 * The coordinator's configuration for these tests (evaluation every 100 ms, nodes heartbeating every second, short
 * for-durations), and starting it in this JVM or as its own process.
 */
final class Coordinators {

    private static final Pattern STARTED = Pattern.compile("coordinator started on (http://\\S+?)/? \\(");

    private final Map<String, Object> coordinator = new LinkedHashMap<>();
    private final Map<String, Object> alerts = new LinkedHashMap<>();
    private final Map<String, String> kafkaProperties = new LinkedHashMap<>();
    private final Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    private final Map<String, Object> tokens = new LinkedHashMap<>();
    private final String bootstrapServers;
    private final String eventsTopic;
    private final String alertsTopic;

    private Coordinators(String bootstrapServers, String eventsTopic, String alertsTopic) {
        this.bootstrapServers = bootstrapServers;
        this.eventsTopic = eventsTopic;
        this.alertsTopic = alertsTopic;
        coordinator.put("group_id", eventsTopic + "-coordinator");
        coordinator.put("evaluation_interval_ms", 100);
        coordinator.put("heartbeat_interval_ms", 1000);
        coordinator.put("replay_secs", 120);
        coordinator.put("external_url", "http://coordinator.e2e:8081");
        alerts.put("pool_usage_for_secs", 1);
        alerts.put("breaker_not_closed_for_secs", 1);
        alerts.put("node_down_missed_heartbeats", 3);
        alerts.put("node_down_for_secs", 0);
    }

    static Coordinators config(String bootstrapServers, String eventsTopic, String alertsTopic) {
        return new Coordinators(bootstrapServers, eventsTopic, alertsTopic);
    }

    /** Sets a {@code [coordinator]} key. */
    Coordinators coordinator(String key, Object value) {
        coordinator.put(key, value);
        return this;
    }

    /** Sets an {@code [alerts]} key. */
    Coordinators alerts(String key, Object value) {
        alerts.put(key, value);
        return this;
    }

    /** Sets a key of another section ({@code [redis]}, {@code [cluster]}). */
    Coordinators section(String name, String key, Object value) {
        sections.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(key, value);
        return this;
    }

    /** Adds an operator's token ({@code [coordinator.tokens]}). */
    Coordinators token(String name, String token) {
        tokens.put(name, token);
        return this;
    }

    /** Sets a Kafka client property ({@code [kafka] properties}). */
    Coordinators kafkaProperty(String key, String value) {
        kafkaProperties.put(key, value);
        return this;
    }

    /** Posts alerts to this Alertmanager, re-sending firing ones every second. */
    Coordinators webhook(Alertmanager alertmanager) {
        coordinator("webhook_url", alertmanager.alertsApi().toString());
        coordinator("webhook_resend_secs", 1);
        return coordinator("webhook_backoff_ms", 100);
    }

    String toml() {
        StringBuilder b = new StringBuilder();
        b.append("[kafka]\n");
        b.append("bootstrap_servers = ").append(value(bootstrapServers)).append('\n');
        b.append("events_topic = ").append(value(eventsTopic)).append('\n');
        b.append("alerts_topic = ").append(value(alertsTopic)).append('\n');
        if (!kafkaProperties.isEmpty()) {
            b.append("properties = { ");
            b.append(String.join(", ", kafkaProperties.entrySet().stream()
                    .map(e -> value(e.getKey()) + " = " + value(e.getValue())).toList()));
            b.append(" }\n");
        }
        b.append("[metrics]\nport = 0\nbind = \"127.0.0.1\"\n");
        section(b, "coordinator", coordinator);
        if (!tokens.isEmpty()) {
            section(b, "coordinator.tokens", tokens);
        }
        section(b, "alerts", alerts);
        sections.forEach((name, keys) -> section(b, name, keys));
        return b.toString();
    }

    private static void section(StringBuilder b, String name, Map<String, Object> keys) {
        b.append('[').append(name).append("]\n");
        keys.forEach((k, v) -> b.append(k).append(" = ").append(value(v)).append('\n'));
    }

    private static String value(Object v) {
        return v instanceof String s ? "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"" : v.toString();
    }

    /** Starts a coordinator in this JVM on the system clock and waits until it evaluates its rules. */
    Coordinator startInProcess() {
        Coordinator c = new Coordinator(ConfigLoader.parse(toml(), Map.of()), Clock.systemUTC()).start();
        try {
            await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(60)).until(c::ready);
        } catch (RuntimeException | AssertionError e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** A coordinator started as its own process ({@code dev.sluice.coordinator.Main --config FILE}, -Xmx256m). */
    record Running(NodeProcess process, URI uri) implements AutoCloseable {
        @Override
        public void close() {
            process.close();
        }
    }

    /** Writes the configuration to {@code dir}, starts the coordinator as a process and waits until it is ready. */
    Running startProcess(Path dir, String name) {
        Path file;
        try {
            file = Files.writeString(Files.createDirectories(dir).resolve(name + ".toml"), toml());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        NodeProcess process = NodeProcess.forMainClass(dev.sluice.coordinator.Main.class)
                .args("--config", file.toString()).name(name).maxHeap("256m").start();
        try {
            Matcher m = STARTED.matcher(process.awaitLog(STARTED, Duration.ofSeconds(90)));
            if (!m.find()) {
                throw new AssertionError("no URI in the start-up line of " + name);
            }
            URI uri = URI.create(m.group(1) + "/");
            await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(60))
                    .until(() -> Http.ok(uri, "/health/ready"));
            return new Running(process, uri);
        } catch (RuntimeException | AssertionError e) {
            process.close();
            throw e;
        }
    }
}
