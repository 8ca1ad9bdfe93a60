package dev.sluice.hubsim;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * Answers {@code GET {prefix}{key}}. Each request is first admitted by the {@link TrafficMonitor} (refused ones are
 * answered 429 at once), then, in order: a method other than GET is answered 405 and an empty key 404; during an
 * outage the outage status is answered at once; otherwise the Hub waits for the latency and answers 500 for the
 * first fail-first attempts of the key, 500 at the error rate, and 200 with the key's document in the configured
 * {@link BodyShape}. A request is in flight until the last piece of its answer is about to be written, or until
 * the client hangs up mid-body.
 */
final class HubHandler implements HttpHandler {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HubHandler.class);

    private final String pathPrefix;
    private final TrafficMonitor monitor;
    private final Supplier<Behaviour> behaviour;
    private final Supplier<Outage> outage;
    private final FailFirstCounter failFirst;
    private final DoubleSupplier recentStallMs;

    /** @param recentStallMs the simulator's own longest stall in the second before now, in ms (see {@link StallWatch}) */
    HubHandler(String pathPrefix, TrafficMonitor monitor, Supplier<Behaviour> behaviour, Supplier<Outage> outage,
            FailFirstCounter failFirst, DoubleSupplier recentStallMs) {
        this.pathPrefix = pathPrefix;
        this.monitor = monitor;
        this.behaviour = behaviour;
        this.outage = outage;
        this.failFirst = failFirst;
        this.recentStallMs = recentStallMs;
    }

    /** The document the Hub serves for a key; the same key always gets the same document. */
    static String document(String key) {
        return "{\"key\":" + Json.string(key) + ",\"value\":\"" + sha256Hex(key) + "\",\"version\":1}";
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            var key = keyOf(exchange);
            var admission = monitor.admit();
            Answer answer = null;
            try {
                answer = answer(exchange.getRequestMethod(), key, admission, exchange.getRemoteAddress());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                answer = Answer.error(503, "hub simulator is stopping");
            } finally {
                if (answer == null) {
                    monitor.complete(admission, 500, null);
                }
            }
            var status = answer.status();
            // Recorded right before the last piece of the body is written: a client holding the answer never finds
            // its request still in flight, and a long or trickled body keeps its request in flight while it goes out.
            var recorded = new AtomicBoolean();
            try {
                answer.sendTo(exchange, () -> {
                    if (recorded.compareAndSet(false, true)) {
                        monitor.complete(admission, status, status == 200 ? key : null);
                    }
                });
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                if (recorded.compareAndSet(false, true)) {
                    // The client hung up (or the simulator stopped) mid-body: the request ended here, unserved.
                    monitor.complete(admission, status, null);
                    log.debug("answer for key {} cut short after its headers", key);
                }
            }
        }
    }

    private String keyOf(HttpExchange exchange) {
        var path = exchange.getRequestURI().getPath();
        return path.length() > pathPrefix.length() ? path.substring(pathPrefix.length()) : "";
    }

    private Answer answer(String method, String key, TrafficMonitor.Admission admission, java.net.InetSocketAddress remote)
            throws InterruptedException {
        if (admission.overWindow() || admission.overInFlight()) {
            log.warn("over the Hub's {} limit: key {} from {} (the simulator's own longest stall in the second before: {} ms)",
                    admission.overInFlight() ? "max in flight" : "max requests per second", key, remote,
                    String.format(java.util.Locale.ROOT, "%.1f", recentStallMs.getAsDouble()));
        }
        if (!admission.accepted()) {
            var limit = admission.overInFlight() ? "max in flight" : "max requests per second";
            return Answer.error(429, "over the Hub's " + limit + " limit")
                    .withHeader("Retry-After", Integer.toString(monitor.limits().retryAfterSecs()));
        }
        if (!"GET".equals(method)) {
            return Answer.error(405, "only GET is allowed").withHeader("Allow", "GET");
        }
        if (key.isEmpty()) {
            return Answer.error(404, "no key in the path: GET " + pathPrefix + "{key}");
        }
        var down = outage.get();
        if (down.on()) {
            return Answer.error(down.status(), "outage");
        }
        var now = behaviour.get();
        var random = ThreadLocalRandom.current();
        var delayMs = now.latencyMs() + (now.jitterMs() > 0 ? random.nextLong(now.jitterMs() + 1) : 0);
        if (delayMs > 0) {
            Thread.sleep(delayMs);
        }
        if (now.failFirst() > 0 && failFirst.nextAttempt(key) <= now.failFirst()) {
            return Answer.error(500, "fail-first: an early attempt for this key");
        }
        if (now.errorRate() > 0 && random.nextDouble() < now.errorRate()) {
            return Answer.error(500, "injected error");
        }
        return Answer.json(200, document(key)).shaped(now.body());
    }

    private static String sha256Hex(String key) {
        try {
            var digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }
}
