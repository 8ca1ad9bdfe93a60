package dev.sluice.testkit;

import com.hazelcast.config.Config;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Gives each test its own cluster of embedded Hazelcast members (see {@link HazelcastMembers}).
 *
 * <pre>{@code
 * @RegisterExtension
 * static HazelcastExtension hazelcast = HazelcastExtension.builder().members(3)
 *         .configure(config -> config.addMapConfig(new MapConfig("permits").setBackupCount(1)))
 *         .build();
 *
 * @Test
 * void releasesPermitWhenHolderDies(HazelcastMembers members) { members.terminate(1); ... }
 * }</pre>
 *
 * <p>By default every test gets new members with a cluster name of its own, so no state crosses tests even
 * when the extension sits on a static field; {@link Builder#perClass()} shares one cluster across a class
 * instead. Parameters of type {@link HazelcastMembers} receive the members.
 */
public final class HazelcastExtension extends ResourceExtension<HazelcastMembers> {

    private final int members;
    private final Map<String, String> properties;
    private final Consumer<Config> customizer;

    /** One member per test; for {@code @ExtendWith(HazelcastExtension.class)}. */
    public HazelcastExtension() {
        this(new Builder());
    }

    private HazelcastExtension(Builder builder) {
        super(HazelcastMembers.class, !builder.perClass);
        this.members = builder.members;
        this.properties = Map.copyOf(builder.properties);
        this.customizer = builder.customizer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The members of the running test (or class, with {@link Builder#perClass()}). */
    public HazelcastMembers members() {
        return current("Hazelcast members");
    }

    @Override
    HazelcastMembers open(ExtensionContext context) {
        HazelcastMembers.Builder builder = HazelcastMembers.builder()
                .members(members)
                .clusterName(clusterNameFor(context))
                .configure(customizer);
        properties.forEach(builder::property);
        return builder.build().start();
    }

    /** Readable in logs, unique per run: {@code <test method or class>-<random>}. */
    private static String clusterNameFor(ExtensionContext context) {
        String name = context.getTestMethod().map(m -> m.getName())
                .orElseGet(() -> context.getRequiredTestClass().getSimpleName());
        String safe = name.replaceAll("[^A-Za-z0-9_.-]", "_");
        return (safe.length() > 40 ? safe.substring(0, 40) : safe) + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Builds a {@link HazelcastExtension}. */
    public static final class Builder {
        private int members = 1;
        private boolean perClass;
        private final Map<String, String> properties = new LinkedHashMap<>();
        private Consumer<Config> customizer = config -> { };

        private Builder() {
        }

        /** See {@link HazelcastMembers.Builder#members(int)}; default 1. */
        public Builder members(int members) {
            HazelcastMembers.builder().members(members); // same check, same message
            this.members = members;
            return this;
        }

        /** See {@link HazelcastMembers.Builder#property(String, String)}. */
        public Builder property(String key, String value) {
            properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** See {@link HazelcastMembers.Builder#configure(Consumer)}. */
        public Builder configure(Consumer<Config> customizer) {
            this.customizer = this.customizer.andThen(Objects.requireNonNull(customizer, "customizer"));
            return this;
        }

        /** One cluster for all tests of the class (when registered on a static field) instead of one per test. */
        public Builder perClass() {
            this.perClass = true;
            return this;
        }

        public HazelcastExtension build() {
            return new HazelcastExtension(this);
        }
    }
}
