package dev.sluice.worker.hub;

import dev.sluice.common.config.HubConfig;
import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.worker.limits.HubLimiter;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/**
 * Calls the Hub: {@code GET base_url + path} with {@code {key}} filled in, inside a permit and a token from the
 * {@link HubLimiter}. Non-2xx answers and transport failures become {@link SluiceException}s with their
 * {@link ErrorKind}; a 429 pauses the limiter for its Retry-After.
 */
public final class HubClient implements AutoCloseable {

    /** Marks the moment a job's real work begins (it holds a permit); see the worker's drain. */
    public interface StartSignal {
        void started();
    }

    private final HubConfig config;
    private final HubLimiter limiter;
    private final HttpClient http;
    private final Duration maxWait;
    private final LongAdder requests = new LongAdder();
    private final LongAdder timeouts = new LongAdder();
    private final LongAdder rateLimited = new LongAdder();
    private final LongAdder failures = new LongAdder();

    public HubClient(HubConfig config, HubLimiter limiter) {
        this.config = config;
        this.limiter = limiter;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(config.connectTimeoutMs()))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        this.maxWait = Duration.ofMillis(Math.max(1_000, config.requestTimeoutMs()));
    }

    /** The body of the Hub's answer for {@code key}. */
    public byte[] fetch(String key, StartSignal signal) {
        HubLimiter.Permit permit;
        try {
            permit = limiter.acquire(maxWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, "interrupted while waiting for a Hub permit", null);
        }
        if (permit == null) {
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE,
                    "no Hub permit and token within " + maxWait.toMillis() + " ms", null);
        }
        signal.started();
        try (permit) {
            requests.increment();
            HttpRequest request = HttpRequest.newBuilder(uriFor(key))
                    .timeout(Duration.ofMillis(config.requestTimeoutMs()))
                    .header("Accept", "application/json")
                    .GET().build();
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            int status = response.statusCode();
            if (status >= 200 && status < 300) {
                return response.body();
            }
            ErrorKind kind = ErrorKind.ofHubStatus(status);
            Duration retryAfter = retryAfter(response);
            if (kind == ErrorKind.HUB_RATE_LIMITED) {
                rateLimited.increment();
                limiter.pauseFor(retryAfter == null ? kind.suggestedRetryDelay() : retryAfter);
                throw SluiceException.notAttempted(kind, "Hub answered 429 for " + key, retryAfter);
            }
            failures.increment();
            if (kind == ErrorKind.HUB_TIMEOUT) {
                timeouts.increment();
            }
            throw new SluiceException(kind, "Hub answered " + status + " for " + key, null, retryAfter);
        } catch (IOException e) {
            failures.increment();
            ErrorKind kind = ErrorClassifier.classify(e);
            if (kind.timeout()) {
                timeouts.increment();
            }
            throw new SluiceException(kind, "Hub request for " + key + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SluiceException(ErrorKind.HUB_TIMEOUT, "interrupted during the Hub request for " + key, e);
        }
    }

    URI uriFor(String key) {
        String path = config.path().replace("{key}", URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20"));
        String base = config.baseUrl().toString();
        if (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        return URI.create(base + path);
    }

    private static Duration retryAfter(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After").flatMap(v -> {
            try {
                return java.util.Optional.of(Duration.ofSeconds(Long.parseLong(v.strip())));
            } catch (NumberFormatException e) {
                return java.util.Optional.empty();
            }
        }).orElse(null);
    }

    public long requests() {
        return requests.sum();
    }

    public long timeouts() {
        return timeouts.sum();
    }

    public long rateLimited() {
        return rateLimited.sum();
    }

    public long failures() {
        return failures.sum();
    }

    @Override
    public void close() {
        http.close();
    }
}
