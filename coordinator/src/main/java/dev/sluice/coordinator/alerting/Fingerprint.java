package dev.sluice.coordinator.alerting;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/** The identity of an alert: a hash of its rule and its labels, sorted by name. */
public final class Fingerprint {

    private Fingerprint() {
    }

    /** 16 hex digits of SHA-256 over {@code rule} and the sorted {@code name=value} pairs. */
    public static String of(String rule, Map<String, String> labels) {
        StringBuilder text = new StringBuilder(rule);
        new TreeMap<>(labels).forEach((k, v) -> text.append('\u0000').append(k).append('=').append(v));
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
