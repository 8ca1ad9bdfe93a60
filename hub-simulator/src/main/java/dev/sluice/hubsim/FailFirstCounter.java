package dev.sluice.hubsim;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts attempts per key for the fail-first behaviour; holds keys only while fail-first is in use. */
final class FailFirstCounter {
    private final ConcurrentHashMap<String, AtomicInteger> attempts = new ConcurrentHashMap<>();

    /** Records an attempt for the key and returns its number, starting at 1. */
    int nextAttempt(String key) {
        return attempts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
    }

    /** Forgets all keys, so that every key starts again at its first attempt. */
    void clear() {
        attempts.clear();
    }
}
