package dev.sluice.common.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Loads a {@link SluiceConfig} from a TOML file plus environment overrides and validates it.
 *
 * <p>An override is named {@code SLUICE_<SECTION>_<KEY>} in upper case, e.g. {@code SLUICE_REDIS_POOL_SIZE=50}
 * for {@code [redis] pool_size}; it wins over the file. Lists and tables take comma-separated values
 * ({@code SLUICE_CLUSTER_MEMBERS=a:5701,b:5701}, {@code SLUICE_KAFKA_PROPERTIES=security.protocol=SSL}).
 *
 * <h2>Which {@code SLUICE_} variables are configuration</h2>
 * A misspelt override must not be silently ignored, so every {@code SLUICE_} variable is sorted, in this order
 * ({@link #environment}):
 * <ol>
 *   <li><b>Service links</b>, never configuration: the variables Kubernetes (and Docker links) create for a Service
 *       named {@code sluice-redis} beside the pod: names ending in {@code _SERVICE_HOST}, names with
 *       {@code _SERVICE_PORT} ({@code SLUICE_REDIS_SERVICE_PORT}, {@code SLUICE_REDIS_SERVICE_PORT_REDIS}),
 *       {@code <X>_PORT_<n>_TCP} with optional {@code _PROTO}, {@code _PORT} or {@code _ADDR} (also UDP and SCTP),
 *       and {@code <X>_PORT} <em>when its value is a {@code tcp://}, {@code udp://} or {@code sctp://} address</em>
 *       ({@code SLUICE_REDIS_PORT=tcp://10.0.0.3:6379}). That last form shares its name with real keys
 *       ({@code metrics.port}, {@code cluster.port}), so the value decides: {@code SLUICE_METRICS_PORT=9090} is
 *       configuration, {@code SLUICE_METRICS_PORT=tcp://10.0.0.5:9090} (a Service {@code sluice-metrics}) is not.
 *       No key's variable has any of the other forms. Logged at debug.</li>
 *   <li><b>Overrides</b>: the part after {@code SLUICE_} up to the next {@code _} is a section, the rest one of its
 *       keys. A section without a known key ({@code SLUICE_REDIS_URLL}, {@code SLUICE_REDIS}) stops loading.</li>
 *   <li><b>Misspelt</b>: that first part is within {@value #MAX_SECTION_EDITS} edits (Damerau-Levenshtein:
 *       insert, delete, replace, swap two neighbours) of a section ({@code SLUICE_REDDIS_URL},
 *       {@code SLUICE_METRIC_TOKEN}): stops loading.</li>
 *   <li><b>Ignored</b>: the rest ({@code SLUICE_TEST_REDIS}, {@code SLUICE_JAVA_HOME}, {@code SLUICE_FLEET_MAX_RPS})
 *       belong to scripts and tests; logged at debug and listed by {@code sluice config check}.</li>
 * </ol>
 * A stopping variable is named with the nearest known variable ({@code did you mean SLUICE_REDIS_URL?}) and its
 * value, unless the variable or that suggestion speaks of a token, password or secret.
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

    /** A {@code SLUICE_} variable whose first part is this close to a section is taken for a misspelt override. */
    static final int MAX_SECTION_EDITS = 2;

    private static final String ENV_RULE = "must name a known SLUICE_<SECTION>_<KEY>";
    private static final Pattern SERVICE_LINK_NAME = Pattern.compile(
            ".+_SERVICE_HOST|.+_SERVICE_PORT(_.+)?|.+_PORT_\\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?");
    private static final Pattern SERVICE_LINK_ADDRESS = Pattern.compile("(?i)(tcp|udp|sctp)://.*");

    private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

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
        for (String name : environment(env).overrides()) {
            String rest = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
            raw.put(rest.replaceFirst("_", "."), new ConfigReader.Raw(env.get(name), "environment " + name));
        }
    }

    /**
     * The {@code SLUICE_} variables of {@code env} by what loading makes of them (see the class comment).
     *
     * @throws ConfigException for the first variable, by name, that loading refuses (a misspelt override)
     */
    public static EnvironmentVariables environment(Map<String, String> env) {
        SortedSet<String> overrides = new TreeSet<>();
        SortedSet<String> serviceLinks = new TreeSet<>();
        SortedSet<String> ignored = new TreeSet<>();
        Set<String> known = null;
        for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(ENV_PREFIX)) {
                continue;
            }
            if (isServiceLink(name, e.getValue())) {
                log.debug("{} is a Kubernetes service link, not configuration; ignored", name);
                serviceLinks.add(name);
                continue;
            }
            String rest = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
            int underscore = rest.indexOf('_');
            String first = underscore < 0 ? rest : rest.substring(0, underscore);
            String key = underscore < 0 ? "" : rest.substring(underscore + 1);
            if (SECTIONS.contains(first) || nearestSection(first) != null) {
                known = known == null ? knownKeys() : known;
                if (!known.contains(first + "." + key)) {
                    throw misspelt(name, e.getValue(), first, key, known);
                }
                overrides.add(name);
            } else {
                log.debug("{} names no configuration section; ignored", name);
                ignored.add(name);
            }
        }
        return new EnvironmentVariables(Collections.unmodifiableSortedSet(overrides),
                Collections.unmodifiableSortedSet(serviceLinks), Collections.unmodifiableSortedSet(ignored));
    }

    /**
     * The {@code SLUICE_} variables of an environment, sorted.
     *
     * @param overrides     configuration overrides, {@code SLUICE_<SECTION>_<KEY>}
     * @param serviceLinks  variables Kubernetes or Docker created for a Service; not configuration
     * @param ignored       variables of scripts and tests, whose first part is far from every section
     */
    public record EnvironmentVariables(SortedSet<String> overrides, SortedSet<String> serviceLinks,
                                       SortedSet<String> ignored) {
    }

    /** Whether {@code name=value} is one of the variables Kubernetes or Docker links create for a Service. */
    static boolean isServiceLink(String name, String value) {
        return SERVICE_LINK_NAME.matcher(name).matches()
                || name.endsWith("_PORT") && value != null && SERVICE_LINK_ADDRESS.matcher(value.strip()).matches();
    }

    /** The section within {@link #MAX_SECTION_EDITS} edits of {@code part}, the nearest first; null when none. */
    private static String nearestSection(String part) {
        return SECTIONS.stream()
                .filter(s -> distance(part, s) <= MAX_SECTION_EDITS)
                .min(Comparator.comparingInt(s -> distance(part, s)))
                .orElse(null);
    }

    private static ConfigException misspelt(String name, String value, String first, String key, Set<String> known) {
        String suggestion = known.stream()
                .map(ConfigLoader::variable)
                .min(Comparator.comparingInt(v -> distance(name, v)))
                .orElseThrow();
        String problem;
        String note = "";
        if (!SECTIONS.contains(first)) {
            String section = nearestSection(first);
            int edits = distance(first, section);
            problem = first + " is not a section, only " + edits + (edits == 1 ? " edit" : " edits") + " from [" + section + "]";
            note = ". A SLUICE_ variable is left alone only when the part after SLUICE_ up to the next _ is more than "
                    + MAX_SECTION_EDITS + " edits from every section";
        } else if (key.isEmpty()) {
            problem = "it names section [" + first + "] without a key";
        } else {
            problem = "[" + first + "] has no key " + key;
        }
        boolean secret = ConfigView.isSecretKey(name) || ConfigView.isSecretKey(suggestion);
        String shown = secret || value == null ? null : '"' + ConfigReader.redactUserInfo(value) + '"';
        return new ConfigException(name, shown, ENV_RULE, "environment variable " + name + " " + ENV_RULE + ", but "
                + problem + " (value " + (shown == null ? "hidden" : shown) + "); did you mean " + suggestion + "?" + note);
    }

    /** The environment variable that overrides {@code section.key}. */
    static String variable(String key) {
        return ENV_PREFIX + key.replace('.', '_').toUpperCase(Locale.ROOT);
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

    /** Damerau-Levenshtein distance (optimal string alignment): insert, delete, replace, swap two neighbours. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i][j - 1] + 1, d[i - 1][j] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
