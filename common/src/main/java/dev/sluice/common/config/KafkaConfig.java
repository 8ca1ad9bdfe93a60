package dev.sluice.common.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code [kafka]}: the event bus.
 *
 * @param enabled           whether nodes publish events (off: no Kafka needed, nothing is published)
 * @param bootstrapServers  comma-separated {@code host:port} list
 * @param eventsTopic       node events
 * @param alertsTopic       the coordinator's alerts (compacted)
 * @param bufferEvents      events kept while Kafka is unreachable; more are dropped and counted
 * @param properties        passed to the clients as they are (security.protocol, sasl.*, ssl.*)
 */
public record KafkaConfig(boolean enabled, String bootstrapServers, String eventsTopic, String alertsTopic, int bufferEvents,
                          Map<String, String> properties) {

    static KafkaConfig read(ConfigReader r) {
        return new KafkaConfig(
                r.bool("kafka.enabled", true),
                r.nonBlank("kafka.bootstrap_servers", "127.0.0.1:9092"),
                r.nonBlank("kafka.events_topic", "sluice.events"),
                r.nonBlank("kafka.alerts_topic", "sluice.alerts"),
                r.intIn("kafka.buffer_events", 10_000, 1, 10_000_000),
                r.stringMap("kafka.properties"));
    }

    /**
     * What every Kafka client of Sluice starts from (producers, consumers, the admin client): the {@code properties}
     * as they are, then {@code bootstrap_servers}, then {@code clientId} unless it is null. Each client adds its own
     * serializers and tuning. Plain keys, no Kafka type: {@code common} does not depend on the Kafka client.
     */
    public Map<String, Object> clientProperties(String clientId) {
        Map<String, Object> out = new LinkedHashMap<>(properties);
        out.put("bootstrap.servers", bootstrapServers);
        if (clientId != null) {
            out.put("client.id", clientId);
        }
        return out;
    }

    /** The client properties with the values of secret-looking names hidden, fit for logs and status pages. */
    public Map<String, String> redactedProperties() {
        Map<String, String> shown = new TreeMap<>();
        properties.forEach((k, v) -> shown.put(k, isSecret(k) ? "***" : v));
        return shown;
    }

    static boolean isSecret(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        return n.contains("password") || n.contains("jaas") || n.contains("secret") || n.contains("token")
                || n.endsWith(".key");
    }

    @Override
    public String toString() {
        return "KafkaConfig[enabled=" + enabled + ", bootstrapServers=" + bootstrapServers + ", eventsTopic=" + eventsTopic + ", alertsTopic="
                + alertsTopic + ", bufferEvents=" + bufferEvents + ", properties=" + redactedProperties() + "]";
    }
}
