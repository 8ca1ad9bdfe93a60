package dev.sluice.common.config;

import java.net.URI;
import java.util.List;

/**
 * {@code [hub]}: the upstream API and its limits, which hold for the whole fleet.
 *
 * @param baseUrl                   scheme, host and port of the Hub
 * @param path                      request path with a {@code {key}} placeholder
 * @param maxConcurrentConnections  requests in flight at the Hub, fleet-wide
 * @param maxRequestsPerSecond      requests in any sliding one-second window, fleet-wide
 * @param connectTimeoutMs          TCP connect timeout
 * @param requestTimeoutMs          whole-request timeout
 * @param permitGraceMs             added to the request timeout to form a concurrency permit's lease
 * @param maxRetryAfterSecs         the longest pause a 429's {@code Retry-After} may impose; longer ones are cut
 *                                  to this, so one bad header cannot park the fleet for years
 * @param maxResponseBytes          the largest Hub answer body a node reads; a larger one fails its job for good
 *                                  (it never enters the heap whole), and each Hub call reserves this much of the
 *                                  node's body budget before it takes a permit
 */
public record HubConfig(URI baseUrl, String path, int maxConcurrentConnections, int maxRequestsPerSecond,
                        int connectTimeoutMs, int requestTimeoutMs, int permitGraceMs, int maxRetryAfterSecs,
                        int maxResponseBytes) {

    /** The default of {@code hub.max_response_bytes}: 1 MiB. */
    public static final int DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

    static HubConfig read(ConfigReader r) {
        URI baseUrl = r.url("hub.base_url", "http://127.0.0.1:8080", List.of("http", "https"));
        String path = r.nonBlank("hub.path", "/v1/backfill/{key}");
        if (!path.startsWith("/") || !path.contains("{key}")) {
            throw r.outOfRange("hub.path", null, path, "must start with '/' and contain {key}");
        }
        int requestTimeout = r.intIn("hub.request_timeout_ms", 5_000, 1, 600_000);
        int connectTimeout = r.intIn("hub.connect_timeout_ms", Math.min(2_000, requestTimeout), 1, 600_000);
        if (connectTimeout > requestTimeout) {
            throw ConfigReader.conflict("hub.connect_timeout_ms", Integer.toString(connectTimeout),
                    "must not exceed hub.request_timeout_ms (" + requestTimeout + ")");
        }
        return new HubConfig(baseUrl, path,
                r.intIn("hub.max_concurrent_connections", 5, 1, 10_000),
                r.intIn("hub.max_requests_per_second", 10, 1, 1_000_000),
                connectTimeout,
                requestTimeout,
                r.intIn("hub.permit_grace_ms", 1_000, 0, 600_000),
                r.intIn("hub.max_retry_after_secs", 300, 1, 86_400),
                r.intIn("hub.max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES, 1024, 64 * 1024 * 1024));
    }

    /** How long a concurrency permit may be held before it is presumed ended at the Hub. */
    public long permitLeaseMs() {
        return (long) requestTimeoutMs + permitGraceMs;
    }
}
