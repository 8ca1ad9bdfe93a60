package dev.sluice.testkit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Gives a test class a real {@link KafkaBroker} (single-node KRaft, inside the test JVM).
 *
 * <pre>{@code
 * @RegisterExtension
 * static KafkaExtension kafka = KafkaExtension.builder().build();
 *
 * @Test
 * void publishesEvents(KafkaBroker broker) { broker.createTopic("events", 3); ... }
 * }</pre>
 *
 * <p>On a static field (or with {@code @ExtendWith(KafkaExtension.class)}) one broker serves the class, and a
 * test that stopped it finds it started again before the next test; on an instance field each test gets its
 * own. Topics are not deleted between tests: give each test its own topic names. Parameters of type
 * {@link KafkaBroker} receive the broker.
 */
public final class KafkaExtension extends ResourceExtension<KafkaBroker> {

    private final Map<String, String> properties;

    /** Default settings; for {@code @ExtendWith(KafkaExtension.class)}. */
    public KafkaExtension() {
        this(Map.of());
    }

    private KafkaExtension(Map<String, String> properties) {
        super(KafkaBroker.class, false);
        this.properties = Map.copyOf(properties);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The broker of the running class or test. */
    public KafkaBroker broker() {
        return current("Kafka broker");
    }

    /** Shortcut for {@code broker().bootstrapServers()}. */
    public String bootstrapServers() {
        return broker().bootstrapServers();
    }

    @Override
    KafkaBroker open(ExtensionContext context) {
        KafkaBroker.Builder builder = KafkaBroker.builder();
        properties.forEach(builder::property);
        KafkaBroker broker = builder.build();
        try {
            return broker.start();
        } catch (RuntimeException e) {
            broker.close();
            throw e;
        }
    }

    @Override
    void beforeTest(KafkaBroker shared) {
        shared.start();
    }

    /** Builds a {@link KafkaExtension}. */
    public static final class Builder {
        private final Map<String, String> properties = new LinkedHashMap<>();

        private Builder() {
        }

        /** See {@link KafkaBroker.Builder#property(String, String)}. */
        public Builder property(String key, String value) {
            properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        public KafkaExtension build() {
            return new KafkaExtension(properties);
        }
    }
}
