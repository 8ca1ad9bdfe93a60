package dev.sluice.common.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads typed, validated values out of the flattened raw configuration. Every read registers its key as known, so
 * whatever is left unread afterwards is an unknown key (reported with the nearest known key).
 *
 * <p>A raw value is either a TOML node (typed) or a string from an environment override, which is parsed to the
 * key's type. Messages say where the value came from when it came from the environment.
 */
final class ConfigReader {

    /** A raw value and where it came from. */
    record Raw(Object value, String origin) {
        boolean fromEnvironment() {
            return value instanceof String;
        }
    }

    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    private final Map<String, Raw> raw;
    private final Set<String> known = new LinkedHashSet<>();

    ConfigReader(Map<String, Raw> raw) {
        this.raw = new LinkedHashMap<>(raw);
    }

    Set<String> knownKeys() {
        return Collections.unmodifiableSet(known);
    }

    Set<String> unreadKeys() {
        Set<String> unread = new LinkedHashSet<>(raw.keySet());
        unread.removeAll(known);
        return unread;
    }

    boolean isSet(String key) {
        return raw.containsKey(key);
    }

    int intIn(String key, int defaultValue, int min, int max) {
        return Math.toIntExact(longIn(key, defaultValue, min, max));
    }

    long longIn(String key, long defaultValue, long min, long max) {
        known.add(key);
        Raw r = raw.get(key);
        long value;
        if (r == null) {
            value = defaultValue;
        } else if (r.value() instanceof String s) {
            try {
                value = Long.parseLong(s.trim());
            } catch (NumberFormatException e) {
                throw wrongType(key, r, "an integer");
            }
        } else if (r.value() instanceof JsonNode n && n.isIntegralNumber() && n.canConvertToLong()) {
            value = n.asLong();
        } else {
            throw wrongType(key, r, "an integer");
        }
        if (value < min || value > max) {
            throw outOfRange(key, r, Long.toString(value), "must be between " + min + " and " + max);
        }
        return value;
    }

    /** A number strictly between {@code minExclusive} and {@code maxExclusive}. */
    double doubleBetween(String key, double defaultValue, double minExclusive, double maxExclusive) {
        known.add(key);
        Raw r = raw.get(key);
        double value;
        if (r == null) {
            value = defaultValue;
        } else if (r.value() instanceof String s) {
            try {
                value = Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                throw wrongType(key, r, "a number");
            }
        } else if (r.value() instanceof JsonNode n && n.isNumber()) {
            value = n.asDouble();
        } else {
            throw wrongType(key, r, "a number");
        }
        if (!(value > minExclusive && value < maxExclusive)) {
            throw outOfRange(key, r, Double.toString(value),
                    "must be greater than " + minExclusive + " and less than " + maxExclusive);
        }
        return value;
    }

    boolean bool(String key, boolean defaultValue) {
        known.add(key);
        Raw r = raw.get(key);
        if (r == null) {
            return defaultValue;
        }
        if (r.value() instanceof String s) {
            String v = s.strip().toLowerCase(Locale.ROOT);
            if (v.equals("true") || v.equals("false")) {
                return Boolean.parseBoolean(v);
            }
            throw wrongType(key, r, "true or false");
        }
        if (r.value() instanceof JsonNode n && n.isBoolean()) {
            return n.asBoolean();
        }
        throw wrongType(key, r, "true or false");
    }

    String string(String key, String defaultValue) {
        known.add(key);
        Raw r = raw.get(key);
        if (r == null) {
            return defaultValue;
        }
        if (r.value() instanceof String s) {
            return s;
        }
        if (r.value() instanceof JsonNode n && n.isTextual()) {
            return n.asText();
        }
        throw wrongType(key, r, "a string");
    }

    String nonBlank(String key, String defaultValue) {
        String value = string(key, defaultValue);
        if (value == null || value.isBlank()) {
            throw outOfRange(key, raw.get(key), value, "must not be empty");
        }
        return value.strip();
    }

    String oneOf(String key, String defaultValue, List<String> allowed) {
        String value = string(key, defaultValue);
        String normalized = value == null ? null : value.strip().toLowerCase(Locale.ROOT);
        if (!allowed.contains(normalized)) {
            throw outOfRange(key, raw.get(key), value, "must be one of " + String.join(", ", quoted(allowed)));
        }
        return normalized;
    }

    /** One of {@code type}'s constants, by the name users write ({@link Choice#id()}), case-insensitive. */
    <E extends Enum<E> & Choice> E choice(String key, E defaultValue, Class<E> type) {
        List<String> ids = new java.util.ArrayList<>();
        for (E e : type.getEnumConstants()) {
            ids.add(e.id());
        }
        String id = oneOf(key, defaultValue.id(), ids);
        for (E e : type.getEnumConstants()) {
            if (e.id().equals(id)) {
                return e;
            }
        }
        throw new IllegalStateException("unreachable: " + id);
    }

    URI url(String key, String defaultValue, List<String> schemes) {
        String value = nonBlank(key, defaultValue);
        String rule = "must be a URL with a host and scheme " + String.join(" or ", schemes);
        try {
            URI uri = new URI(value);
            if (uri.getScheme() == null || !schemes.contains(uri.getScheme().toLowerCase(Locale.ROOT))
                    || uri.getHost() == null) {
                throw outOfRange(key, raw.get(key), redactUserInfo(value), rule);
            }
            return uri;
        } catch (URISyntaxException e) {
            throw outOfRange(key, raw.get(key), redactUserInfo(value), rule);
        }
    }

    /** Like {@link #url} but optional: unset or empty gives {@code null}. */
    URI optionalUrl(String key, List<String> schemes) {
        String value = string(key, "");
        if (value == null || value.isBlank()) {
            return null;
        }
        return url(key, value, schemes);
    }

    /**
     * Extra labels for an alert: a table of strings whose names are Prometheus label names
     * ({@code [a-zA-Z_][a-zA-Z0-9_]*}) and none of {@code reserved}, which the alert sets itself.
     */
    Map<String, String> labels(String key, Set<String> reserved) {
        Map<String, String> labels = stringMap(key);
        for (String name : labels.keySet()) {
            if (!LABEL_NAME.matcher(name).matches()) {
                throw outOfRange(key, raw.get(key), name, "must name labels with letters, digits and '_', not starting with a digit");
            }
            if (reserved.contains(name)) {
                throw outOfRange(key, raw.get(key), name, "must not set the labels the alert sets itself ("
                        + String.join(", ", new TreeSet<>(reserved)) + ")");
            }
        }
        return labels;
    }

    /** A list of strings: a TOML array, or a comma-separated environment value. */
    List<String> stringList(String key, List<String> defaultValue) {
        known.add(key);
        Raw r = raw.get(key);
        if (r == null) {
            return defaultValue;
        }
        List<String> values = new ArrayList<>();
        if (r.value() instanceof String s) {
            for (String part : s.split(",")) {
                if (!part.isBlank()) {
                    values.add(part.strip());
                }
            }
            return List.copyOf(values);
        }
        if (r.value() instanceof JsonNode n && n.isArray()) {
            for (JsonNode element : n) {
                if (!element.isTextual()) {
                    throw wrongType(key, r, "an array of strings");
                }
                values.add(element.asText().strip());
            }
            return List.copyOf(values);
        }
        throw wrongType(key, r, "an array of strings");
    }

    /**
     * A table of string properties, passed on as they are: a TOML table (keys may contain dots when quoted), or
     * a comma-separated {@code name=value} list from the environment.
     */
    Map<String, String> stringMap(String key) {
        known.add(key);
        Raw r = raw.get(key);
        Map<String, String> values = new LinkedHashMap<>();
        if (r == null) {
            return Map.of();
        }
        if (r.value() instanceof String s) {
            for (String part : s.split(",")) {
                if (part.isBlank()) {
                    continue;
                }
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    throw outOfRange(key, r, "<hidden>", "must be a comma-separated list of name=value pairs");
                }
                values.put(part.substring(0, eq).strip(), part.substring(eq + 1).strip());
            }
            return Collections.unmodifiableMap(values);
        }
        if (r.value() instanceof JsonNode n && n.isObject()) {
            flattenTable("", n, values, key, r);
            return Collections.unmodifiableMap(values);
        }
        throw wrongType(key, r, "a table of strings");
    }

    private void flattenTable(String prefix, JsonNode node, Map<String, String> into, String key, Raw r) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String name = prefix + e.getKey();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                flattenTable(name + ".", v, into, key, r);
            } else if (v.isValueNode()) {
                into.put(name, v.asText());
            } else {
                throw wrongType(key + "." + name, r, "a string, number or boolean");
            }
        }
    }

    ConfigException wrongType(String key, Raw r, String expected) {
        return new ConfigException(key, describe(r), "must be " + expected,
                key + " must be " + expected + ", but was " + describe(r) + origin(r));
    }

    ConfigException outOfRange(String key, Raw r, String value, String rule) {
        return new ConfigException(key, value, rule, key + " " + rule + ", but was " + value + origin(r));
    }

    /** A value of {@code key} that breaks {@code rule}, with where the key's value came from. */
    ConfigException invalid(String key, String value, String rule) {
        return outOfRange(key, raw.get(key), value, rule);
    }

    static ConfigException conflict(String key, String value, String rule) {
        return new ConfigException(key, value, rule, key + " " + rule + ", but was " + value);
    }

    private static String origin(Raw r) {
        return r == null ? " (default)" : r.fromEnvironment() ? " (from " + r.origin() + ")" : "";
    }

    private static String describe(Raw r) {
        if (r == null) {
            return "unset";
        }
        if (r.value() instanceof String s) {
            return '"' + s + '"';
        }
        JsonNode n = (JsonNode) r.value();
        if (n.isTextual()) {
            return '"' + n.asText() + "\" (a string)";
        }
        if (n.isBoolean()) {
            return n.asText() + " (a boolean)";
        }
        if (n.isFloatingPointNumber()) {
            return n.asText() + " (a decimal number)";
        }
        if (n.isNumber()) {
            return n.asText() + " (an integer)";
        }
        if (n.isArray()) {
            return "an array";
        }
        if (n.isObject()) {
            return "a table";
        }
        return n.toString();
    }

    private static List<String> quoted(List<String> values) {
        return values.stream().map(v -> '"' + v + '"').toList();
    }

    /** Hides a password in a URL so that it never reaches a log line or an error message. */
    static String redactUserInfo(String url) {
        int scheme = url.indexOf("://");
        int at = url.indexOf('@');
        if (scheme < 0 || at < scheme) {
            return url;
        }
        String userInfo = url.substring(scheme + 3, at);
        int colon = userInfo.indexOf(':');
        String user = colon < 0 ? "" : userInfo.substring(0, colon);
        return url.substring(0, scheme + 3) + (colon < 0 ? "***" : user + ":***") + url.substring(at);
    }
}
