package dev.sluice.common.config;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.net.URI;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The effective configuration as plain values, section by section and key by key under the names of the file
 * ({@code redis.pool_size}), with every secret hidden: fit for {@code sluice config check}, logs and status
 * endpoints.
 *
 * <p>Hidden are the password of any URL ({@code redis.url}), the values of secret-looking Kafka client properties
 * (see {@link KafkaConfig#redactedProperties()}), and any key whose name speaks of a token, password or secret
 * ({@code metrics.token}), which shows as {@value #HIDDEN} when set and as an empty string when not.
 *
 * <p>Values are read from the section records by the camel-case form of each key's name, so a key added to the
 * loader shows up here without further work; a key without a matching record component is a programming error. The
 * alert rules' keys are read from their rule ({@link AlertsConfig#ruleSetting}).
 */
public final class ConfigView {

    /** What a hidden secret shows as. */
    public static final String HIDDEN = "***";

    private ConfigView() {
    }

    /** Section name to (key name to value); values are strings, numbers, booleans, lists or string maps. */
    public static Map<String, Map<String, Object>> redacted(SluiceConfig config) {
        Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
        for (String section : ConfigLoader.SECTIONS) {
            sections.put(section, new LinkedHashMap<>());
        }
        for (String key : ConfigLoader.knownKeys()) {
            int dot = key.indexOf('.');
            String section = key.substring(0, dot);
            String name = key.substring(dot + 1);
            Record sectionRecord = (Record) component(config, section);
            Object value = sectionRecord instanceof AlertsConfig alerts && alerts.ruleSetting(name).isPresent()
                    ? alerts.ruleSetting(name).get() : component(sectionRecord, camelCase(name));
            sections.computeIfAbsent(section, s -> new LinkedHashMap<>()).put(name, redact(key, value, sectionRecord));
        }
        Map<String, Map<String, Object>> frozen = new LinkedHashMap<>();
        sections.forEach((s, keys) -> frozen.put(s, Collections.unmodifiableMap(keys)));
        return Collections.unmodifiableMap(frozen);
    }

    /** True for key names that hold a secret as a whole. */
    static boolean isSecretKey(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        return k.contains("token") || k.contains("password") || k.contains("secret");
    }

    private static Object redact(String key, Object value, Record section) {
        if (isSecretKey(key)) {
            return value == null || value.toString().isEmpty() ? "" : HIDDEN;
        }
        if (section instanceof KafkaConfig kafka && value == kafka.properties()) {
            return kafka.redactedProperties();
        }
        return switch (value) {
            case URI uri -> ConfigReader.redactUserInfo(uri.toString());
            case Choice choice -> choice.id();
            case List<?> list -> List.copyOf(list.stream().map(String::valueOf).toList());
            case Map<?, ?> map -> {
                // No other table exists today; show its names only, in case one ever holds a secret.
                Map<String, String> names = new LinkedHashMap<>();
                map.keySet().forEach(k -> names.put(String.valueOf(k), HIDDEN));
                yield names;
            }
            case null -> null;
            default -> value;
        };
    }

    static String camelCase(String snake) {
        StringBuilder out = new StringBuilder(snake.length());
        boolean upper = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    private static Object component(Record record, String name) {
        for (RecordComponent c : record.getClass().getRecordComponents()) {
            if (c.getName().equals(name)) {
                try {
                    return c.getAccessor().invoke(record);
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new IllegalStateException("cannot read " + name + " of " + record.getClass().getSimpleName(), e);
                }
            }
        }
        throw new IllegalStateException(record.getClass().getSimpleName() + " has no component " + name
                + " for a configuration key; ConfigView reads keys by their camel-case names");
    }
}
