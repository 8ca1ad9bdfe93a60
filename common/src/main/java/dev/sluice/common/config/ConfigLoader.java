package dev.sluice.common.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Loads a {@link SluiceConfig} from a TOML file plus environment overrides and validates it.
 *
 * <p>An override is named {@code SLUICE_<SECTION>_<KEY>} in upper case, e.g. {@code SLUICE_REDIS_POOL_SIZE=50}
 * for {@code [redis] pool_size}; it wins over the file. Variables whose name does not start with a known section
 * ({@code SLUICE_TEST_REDIS}, say) are not configuration and are ignored. Lists and tables take comma-separated
 * values ({@code SLUICE_CLUSTER_MEMBERS=a:5701,b:5701}, {@code SLUICE_KAFKA_PROPERTIES=security.protocol=SSL}).
 *
 * <p>Every problem is a {@link ConfigException} naming the key, the value and the rule; an unknown key or section
 * comes with the nearest known one.
 */
public final class ConfigLoader {

    /** The sections, in the order the reference documents them. */
    public static final List<String> SECTIONS =
            List.of("node", "redis", "queue", "hub", "breaker", "retry", "sink", "cluster", "kafka", "metrics",
                    "coordinator", "alerts");

    static final String ENV_PREFIX = "SLUICE_";

    private ConfigLoader() {
    }

    /** Loads {@code file} (or only defaults when {@code file} is null) with the process environment. */
    public static SluiceConfig load(Path file) {
        return load(file, System.getenv());
    }

    /** Loads {@code file} (or only defaults when {@code file} is null) with the given environment. */
    public static SluiceConfig load(Path file, Map<String, String> env) {
        if (file == null) {
            return parse("", env, "defaults");
        }
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), null, "must exist",
                    "configuration file " + file + " does not exist");
        } catch (IOException e) {
            throw new ConfigException(file.toString(), null, "must be readable",
                    "configuration file " + file + " cannot be read: " + e.getMessage());
        }
        return parse(text, env, file.toString());
    }

    /** Parses TOML text with the given environment. */
    public static SluiceConfig parse(String toml, Map<String, String> env) {
        return parse(toml, env, "configuration");
    }

    /** Every key the loader knows, as {@code section.key}. */
    public static Set<String> knownKeys() {
        ConfigReader reader = new ConfigReader(Map.of());
        SluiceConfig.read(reader);
        return reader.knownKeys();
    }

    private static SluiceConfig parse(String toml, Map<String, String> env, String source) {
        Map<String, ConfigReader.Raw> raw = new LinkedHashMap<>();
        flattenFile(toml, source, raw);
        overlayEnvironment(env, raw);
        ConfigReader reader = new ConfigReader(raw);
        SluiceConfig config = SluiceConfig.read(reader);
        for (String key : reader.unreadKeys()) {
            String suggestion = nearest(key, reader.knownKeys());
            ConfigReader.Raw r = raw.get(key);
            String where = r.fromEnvironment() ? " (from " + r.origin() + ")" : "";
            throw new ConfigException(key, null, "must be a known key",
                    "unknown key " + key + where + (suggestion == null ? "" : "; did you mean " + suggestion + "?"));
        }
        return config;
    }

    private static void flattenFile(String toml, String source, Map<String, ConfigReader.Raw> raw) {
        if (toml.isBlank()) {
            return;
        }
        JsonNode root;
        try {
            root = new TomlMapper().readTree(toml);
        } catch (JacksonException e) {
            throw new ConfigException(source, null, "must be valid TOML",
                    source + " is not valid TOML: " + e.getOriginalMessage());
        }
        for (Map.Entry<String, JsonNode> section : root.properties()) {
            String name = section.getKey();
            if (!SECTIONS.contains(name)) {
                String suggestion = nearest(name, SECTIONS);
                throw new ConfigException(name, null, "must be a known section",
                        "unknown section [" + name + "]" + (suggestion == null ? "" : "; did you mean [" + suggestion + "]?")
                                + " Known sections: " + String.join(", ", SECTIONS));
            }
            if (!section.getValue().isObject()) {
                throw new ConfigException(name, section.getValue().toString(), "must be a table",
                        name + " must be a table ([" + name + "]), but was " + section.getValue());
            }
            for (Map.Entry<String, JsonNode> entry : section.getValue().properties()) {
                raw.put(name + "." + entry.getKey(), new ConfigReader.Raw(entry.getValue(), source));
            }
        }
    }

    private static void overlayEnvironment(Map<String, String> env, Map<String, ConfigReader.Raw> raw) {
        for (Map.Entry<String, String> e : env.entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(ENV_PREFIX)) {
                continue;
            }
            String rest = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
            for (String section : SECTIONS) {
                if (rest.startsWith(section + "_") && rest.length() > section.length() + 1) {
                    String key = section + "." + rest.substring(section.length() + 1);
                    raw.put(key, new ConfigReader.Raw(e.getValue(), "environment " + name));
                    break;
                }
            }
        }
    }

    /** The candidate closest to {@code name} by edit distance, or null when nothing is reasonably close. */
    static String nearest(String name, java.util.Collection<String> candidates) {
        return candidates.stream()
                .map(c -> Map.entry(c, distance(name, c)))
                .filter(e -> e.getValue() <= Math.max(2, name.length() / 3))
                .min(Comparator.comparingInt(Map.Entry<String, Integer>::getValue))
                .map(Map.Entry::getKey)
                .orElse(null);
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
