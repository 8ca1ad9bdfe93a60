package dev.sluice.worker.hub;

import com.sun.net.httpserver.HttpServer;
import dev.sluice.common.config.BreakerConfig;
import dev.sluice.common.config.HubConfig;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.worker.limits.HubLimiter;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * Calls the Hub: {@code GET base_url + path} with {@code {key}} filled in, through a circuit breaker and inside a
 * permit and a token from the {@link HubLimiter}. Non-2xx answers and transport failures become
 * {@link SluiceException}s with their {@link ErrorKind}; a 429 pauses the limiter for its Retry-After.
 *
 * <h2>Retry-After</h2>
 * Read as seconds or as an HTTP date, and capped at {@code hub.max_retry_after_secs}: a 429 pauses the whole fleet,
 * and one {@code Retry-After: 999999999} must not park it for years. Each capped value is counted
 * ({@link #retryAfterCapped()}) and a warning is logged at most once a minute. A negative or unreadable value
 * counts as absent: the 429 pauses for its kind's suggested delay and the job's retry takes its usual delay.
 *
 * <h2>Circuit breaker ({@code [breaker]})</h2>
 * A Resilience4j breaker over a count-based window of {@code failure_threshold} calls that opens when all of them
 * failed, i.e. after that many consecutive failures. Only kinds that {@link ErrorKind#countsAgainstBreaker()}
 * count as failures (5xx, refused connections, timeouts); a 429 is ignored, another 4xx counts as a success (the
 * Hub answered). After {@code open_secs} it turns half-open by itself and lets {@code half_open_calls} trial calls
 * through: it closes when one of them succeeds, and opens again when all fail. While open, calls fail at once
 * with {@link SluiceException#notAttempted} of kind {@code HUB_UNAVAILABLE} and a retry-after of the time left,
 * so jobs are rescheduled without spending an attempt and never dead-lettered for the outage; a failed trial
 * call does not spend its job's attempt either. An open breaker refuses before the permit and token are taken;
 * the breaker's permission itself is taken right before the request, so a job that waited for its permit while
 * the breaker opened does not call the Hub. {@link BreakerListener}s hear every change.
 *
 * <h2>One request per permit</h2>
 * A permit is released only when its request surely ended at the Hub: when the answer came, or when the
 * connection was never made. After a timeout or a connection lost mid-request it stays counted until its lease
 * ends ({@link HubLimiter.Permit#keepUntilLeaseEnd()}). The HTTP client's own re-send of a request whose pooled
 * connection failed is refused ({@link SingleSendBody}), so nothing reaches the Hub without its own token and
 * permit.
 */
public final class HubClient implements AutoCloseable {

    /** Marks the moment a job's real work begins (it holds a permit); see the worker's drain. */
    public interface StartSignal {
        void started();
    }

    private static final Logger log = LoggerFactory.getLogger(HubClient.class);
    private static final Pattern DIGITS = Pattern.compile("\\d+");
    private static final long CAP_WARNING_INTERVAL_MS = 60_000;

    private final HubConfig config;
    private final HubLimiter limiter;
    private final HttpClient http;
    private final Duration maxWait;
    private final Clock clock;
    private final CircuitBreaker breaker;
    private final List<BreakerListener> breakerListeners = new CopyOnWriteArrayList<>();
    private final LongAdder requests = new LongAdder();
    private final LongAdder timeouts = new LongAdder();
    private final LongAdder rateLimited = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder breakerRejections = new LongAdder();
    private final LongAdder resendsRefused = new LongAdder();
    private final LongAdder tokensMissed = new LongAdder();
    private final LongAdder retryAfterCapped = new LongAdder();
    private final Duration maxRetryAfter;
    private final AtomicLong nextCapWarningMillis = new AtomicLong(Long.MIN_VALUE);
    private volatile long openUntilMillis;

    /** A client with the default breaker ({@code [breaker]} defaults). */
    public HubClient(HubConfig config, HubLimiter limiter) {
        this(config, SluiceConfig.ofDefaults().breaker(), limiter, Clock.systemUTC());
    }

    public HubClient(HubConfig config, BreakerConfig breakerConfig, HubLimiter limiter, Clock clock) {
        this.config = config;
        this.limiter = limiter;
        this.clock = clock;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(config.connectTimeoutMs()))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        this.maxWait = Duration.ofMillis(Math.max(1_000, config.requestTimeoutMs()));
        this.maxRetryAfter = Duration.ofSeconds(config.maxRetryAfterSecs());
        this.breaker = CircuitBreaker.of("hub", CircuitBreakerConfig.custom()
                .slidingWindow(breakerConfig.failureThreshold(), breakerConfig.failureThreshold(),
                        CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(100)
                .waitDurationInOpenState(Duration.ofSeconds(breakerConfig.openSecs()))
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(breakerConfig.halfOpenCalls())
                .recordException(t -> t instanceof SluiceException e && e.kind().countsAgainstBreaker())
                .ignoreException(t -> t instanceof SluiceException e && e.kind() == ErrorKind.HUB_RATE_LIMITED)
                .writableStackTraceEnabled(false)
                .clock(clock)
                .build());
        long openMillis = Duration.ofSeconds(breakerConfig.openSecs()).toMillis();
        breaker.getEventPublisher().onStateTransition(event -> {
            BreakerListener.State from = state(event.getStateTransition().getFromState());
            BreakerListener.State to = state(event.getStateTransition().getToState());
            if (to == BreakerListener.State.OPEN) {
                openUntilMillis = clock.millis() + openMillis;
            }
            CircuitBreaker.Metrics m = breaker.getMetrics();
            BreakerListener.Transition t = new BreakerListener.Transition(from, to, m.getNumberOfFailedCalls(),
                    m.getNumberOfBufferedCalls(), m.getFailureRate(), m.getNumberOfNotPermittedCalls(), clock.instant());
            if (to == BreakerListener.State.OPEN) {
                log.warn("Hub circuit breaker {} -> {} after {} failed of {} calls; calls fail fast for {} s", from.tag(),
                        to.tag(), t.failedCalls(), t.bufferedCalls(), breakerConfig.openSecs());
            } else {
                log.info("Hub circuit breaker {} -> {}", from.tag(), to.tag());
            }
            for (BreakerListener l : breakerListeners) {
                try {
                    l.transitioned(t);
                } catch (RuntimeException e) {
                    log.warn("a breaker listener failed", e);
                }
            }
        });
    }

    private static BreakerListener.State state(CircuitBreaker.State s) {
        return switch (s) {
            case CLOSED -> BreakerListener.State.CLOSED;
            case OPEN, FORCED_OPEN -> BreakerListener.State.OPEN;
            case HALF_OPEN -> BreakerListener.State.HALF_OPEN;
            default -> BreakerListener.State.OTHER;
        };
    }

    public void addBreakerListener(BreakerListener listener) {
        breakerListeners.add(listener);
    }

    /** The breaker's state now. */
    public BreakerListener.State breakerState() {
        return state(breaker.getState());
    }

    /** The body of the Hub's answer for {@code key}. */
    public byte[] fetch(String key, StartSignal signal) {
        if (breakerRefuses()) {
            throw breakerOpen(key);
        }
        long deadline = System.nanoTime() + maxWait.toNanos();
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
        // Asked again right before the call: it may have opened while this job waited for its permit.
        boolean trial = breaker.getState() == CircuitBreaker.State.HALF_OPEN;
        if (!breaker.tryAcquirePermission()) {
            permit.close(); // nothing was sent
            throw breakerOpen(key);
        }
        signal.started();
        long start = System.nanoTime();
        HttpResponse<byte[]> response;
        try {
            response = sendOnTime(key, permit, deadline);
        } catch (IOException e) {
            if (e instanceof TokenNotRenewed) {
                permit.close(); // nothing was sent
                breaker.releasePermission();
                throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, e.getMessage(), null);
            }
            failures.increment();
            if (SingleSendBody.refusedResend(e)) {
                resendsRefused.increment();
            }
            ErrorKind kind = ErrorClassifier.classify(e);
            if (kind.timeout()) {
                timeouts.increment();
            }
            SluiceException failure = new SluiceException(kind, "Hub request for " + key + " failed: " + e, e);
            breaker.onError(System.nanoTime() - start, TimeUnit.NANOSECONDS, failure);
            if (neverSent(e)) {
                permit.close();
            } else {
                permit.keepUntilLeaseEnd();
            }
            throw trial ? failedTrial(failure) : failure;
        } catch (InterruptedException e) {
            permit.keepUntilLeaseEnd();
            breaker.releasePermission();
            Thread.currentThread().interrupt();
            throw new SluiceException(ErrorKind.HUB_TIMEOUT, "interrupted during the Hub request for " + key, e);
        } catch (RuntimeException e) {
            permit.keepUntilLeaseEnd();
            breaker.releasePermission();
            throw e;
        }
        // The breaker hears of the outcome, and a 429 pauses the fleet, before the permit is released: the next
        // caller must not slip a request in between.
        try {
            long elapsed = System.nanoTime() - start;
            int status = response.statusCode();
            if (status >= 200 && status < 300) {
                breaker.onSuccess(elapsed, TimeUnit.NANOSECONDS);
                return response.body();
            }
            ErrorKind kind = ErrorKind.ofHubStatus(status);
            Duration retryAfter = response.headers().firstValue("Retry-After").map(this::retryAfter).orElse(null);
            SluiceException failure;
            if (kind == ErrorKind.HUB_RATE_LIMITED) {
                rateLimited.increment();
                limiter.pauseFor(retryAfter == null ? kind.suggestedRetryDelay() : retryAfter);
                failure = SluiceException.notAttempted(kind, "Hub answered 429 for " + key, retryAfter);
            } else {
                failures.increment();
                if (kind == ErrorKind.HUB_TIMEOUT) {
                    timeouts.increment();
                }
                failure = new SluiceException(kind, "Hub answered " + status + " for " + key, null, retryAfter);
            }
            breaker.onError(elapsed, TimeUnit.NANOSECONDS, failure);
            throw trial ? failedTrial(failure) : failure;
        } finally {
            permit.close();
        }
    }

    /**
     * Sends the request while its permit's token is good. An attempt that would leave too late is held back before
     * its first byte ({@link SingleSendBody}) and goes again on a new token, the permit kept; when no new token
     * comes before {@code deadline} the job is rescheduled (backpressure) with nothing sent.
     */
    private HttpResponse<byte[]> sendOnTime(String key, HubLimiter.Permit permit, long deadline)
            throws IOException, InterruptedException {
        URI uri = uriFor(key);
        while (true) {
            try {
                requests.increment();
                return http.send(request(uri, new SingleSendBody(permit::onTime)), HttpResponse.BodyHandlers.ofByteArray());
            } catch (IOException e) {
                if (!SingleSendBody.tokenMissed(e)) {
                    throw e;
                }
                requests.decrement();
                tokensMissed.increment();
                long left = deadline - System.nanoTime();
                if (left <= 0 || !permit.renewToken(Duration.ofNanos(left))) {
                    throw new TokenNotRenewed(key, e);
                }
            }
        }
    }

    /** A Hub request as it goes out (the warm-up sends the same to loopback). */
    private HttpRequest request(URI uri, SingleSendBody body) {
        return HttpRequest.newBuilder(uri)
                .timeout(Duration.ofMillis(config.requestTimeoutMs()))
                .header("Accept", "application/json")
                .method("GET", body)
                .build();
    }

    /** A request held back for its late token that got no new one in time: nothing was sent. */
    private static final class TokenNotRenewed extends IOException {
        @java.io.Serial
        private static final long serialVersionUID = 1L;

        TokenNotRenewed(String key, IOException cause) {
            super("the Hub request for " + key + " missed its rate token's time and no new token came in time", cause);
        }
    }

    /**
     * A trial call of the half-open breaker that failed the way an outage fails is the breaker's probe, not the
     * job's attempt: counted, a long outage would dead-letter the jobs that happened to be its probes.
     */
    private SluiceException failedTrial(SluiceException failure) {
        if (!failure.kind().countsAgainstBreaker()) {
            return failure;
        }
        SluiceException probe = SluiceException.notAttempted(failure.kind(),
                "trial call of the half-open Hub circuit breaker failed: " + failure.getMessage(),
                failure.retryAfter().orElse(null));
        probe.addSuppressed(failure);
        return probe;
    }

    /** An open breaker refuses before the job takes a permit and a token; a half-open one is asked after. */
    private boolean breakerRefuses() {
        CircuitBreaker.State state = breaker.getState();
        return state == CircuitBreaker.State.OPEN || state == CircuitBreaker.State.FORCED_OPEN;
    }

    private SluiceException breakerOpen(String key) {
        breakerRejections.increment();
        Duration left = Duration.ofMillis(Math.max(0, openUntilMillis - clock.millis()));
        return SluiceException.notAttempted(ErrorKind.HUB_UNAVAILABLE, "Hub circuit breaker is "
                + breakerState().tag() + "; not calling the Hub for " + key, left.isZero() ? null : left);
    }

    /** Whether the request surely never reached the Hub: no connection was made. */
    private static boolean neverSent(IOException e) {
        return e instanceof ConnectException || e instanceof HttpConnectTimeoutException;
    }

    URI uriFor(String key) {
        String path = config.path().replace("{key}", URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20"));
        String base = config.baseUrl().toString();
        if (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        return URI.create(base + path);
    }

    /**
     * A {@code Retry-After} value (seconds, or an HTTP date) as a delay of at most {@code hub.max_retry_after_secs};
     * null when it is negative or unreadable. A date in the past is no delay.
     */
    Duration retryAfter(String value) {
        String v = value.strip();
        Duration asked;
        if (DIGITS.matcher(v).matches()) {
            try {
                asked = Duration.ofSeconds(Long.parseLong(v));
            } catch (NumberFormatException e) {
                asked = null; // more seconds than a long holds: surely over the cap
            }
        } else {
            try {
                asked = Duration.between(clock.instant(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
            } catch (DateTimeParseException e) {
                log.debug("ignoring the Hub's unreadable Retry-After: {}", v);
                return null;
            }
            if (asked.isNegative()) {
                return Duration.ZERO;
            }
        }
        if (asked != null && asked.compareTo(maxRetryAfter) <= 0) {
            return asked;
        }
        retryAfterCapped.increment();
        long now = clock.millis();
        long next = nextCapWarningMillis.get();
        if (now >= next && nextCapWarningMillis.compareAndSet(next, now + CAP_WARNING_INTERVAL_MS)) {
            log.warn("the Hub asked for a pause of {} s (Retry-After: {}); capped at {} s (hub.max_retry_after_secs), "
                            + "{} capped since start", asked == null ? v : asked.toSeconds(), v,
                    maxRetryAfter.toSeconds(), retryAfterCapped.sum());
        }
        return maxRetryAfter;
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

    /** Calls refused by the open (or half-open and busy) breaker without reaching the Hub. */
    public long breakerRejections() {
        return breakerRejections.sum();
    }

    /** Re-sends the HTTP client attempted on its own and this client refused (see {@link SingleSendBody}). */
    public long resendsRefused() {
        return resendsRefused.sum();
    }

    /** What {@link #warmUp} did. */
    public record WarmUp(int requests, Duration took, Duration first, Duration slowestOfLastTen) {
    }

    /**
     * Readies the send path before the node takes its first job: a node's first Hub requests would otherwise load
     * and interpret the HTTP client's code and open its first connections after their rate tokens' times, and
     * leave late. Sends {@code requests} requests, {@code parallel} at a time, exactly as Hub requests are sent
     * (this client, its timeouts, the same body) to a throwaway HTTP server on the loopback interface, never to the
     * Hub: nothing here may count at the Hub. Also resolves the Hub's host name. A failure is logged, not thrown:
     * the node still works, only its first requests are slower (and held back if too late).
     */
    public WarmUp warmUp(int requests, int parallel) {
        long began = System.nanoTime();
        String host = config.baseUrl().getHost();
        try {
            InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            log.warn("the Hub's host {} does not resolve yet: {}", host, e.getMessage());
        }
        HttpServer server = null;
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        long[] took = new long[requests];
        AtomicInteger sent = new AtomicInteger();
        try {
            byte[] body = "{\"warm\":true}".getBytes(StandardCharsets.UTF_8);
            server = HttpServer.create(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            server.setExecutor(threads);
            server.createContext("/", exchange -> {
                try (exchange) {
                    exchange.getRequestBody().readAllBytes();
                    exchange.getResponseHeaders().set("Content-Type", "application/json");
                    exchange.sendResponseHeaders(200, body.length);
                    exchange.getResponseBody().write(body);
                }
            });
            server.start();
            URI uri = URI.create("http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort()
                    + "/warm-up");
            List<Future<?>> senders = new ArrayList<>();
            for (int t = 0; t < parallel; t++) {
                senders.add(threads.submit(() -> {
                    for (int i = sent.getAndIncrement(); i < requests; i = sent.getAndIncrement()) {
                        long start = System.nanoTime();
                        http.send(request(uri, new SingleSendBody()), HttpResponse.BodyHandlers.ofByteArray());
                        took[i] = System.nanoTime() - start;
                    }
                    return null;
                }));
            }
            for (Future<?> f : senders) {
                f.get(30, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            log.warn("warming the Hub client's send path failed (its first Hub requests may be slow): {}", e.toString());
        } finally {
            if (server != null) {
                server.stop(0);
            }
            threads.shutdownNow();
        }
        long slowestOfLastTen = 0;
        for (int i = Math.max(0, requests - 10); i < requests; i++) {
            slowestOfLastTen = Math.max(slowestOfLastTen, took[i]);
        }
        WarmUp w = new WarmUp(Math.min(requests, sent.get()), Duration.ofNanos(System.nanoTime() - began),
                Duration.ofNanos(requests > 0 ? took[0] : 0), Duration.ofNanos(slowestOfLastTen));
        log.info("Hub client send path warmed: {} loopback requests in {} ms (the first took {} ms, the slowest of the "
                        + "last ten {} ms)", requests, w.took().toMillis(), String.format(Locale.ROOT, "%.1f", w.first().toNanos() / 1e6),
                String.format(Locale.ROOT, "%.2f", w.slowestOfLastTen().toNanos() / 1e6));
        return w;
    }

    /** Retry-After values (of 429s and other answers) longer than {@code hub.max_retry_after_secs}, cut to it. */
    public long retryAfterCapped() {
        return retryAfterCapped.sum();
    }

    /** Attempts held back before their first byte because they would have left too late for their rate token. */
    public long tokensMissed() {
        return tokensMissed.sum();
    }

    @Override
    public void close() {
        http.close();
    }
}
