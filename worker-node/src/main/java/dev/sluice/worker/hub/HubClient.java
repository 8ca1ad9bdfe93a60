package dev.sluice.worker.hub;

import dev.sluice.common.config.BreakerConfig;
import dev.sluice.common.config.HubConfig;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.worker.limits.HubLimiter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

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
 *
 * <h2>Bodies: bounded in size, in time and in number</h2>
 * An answer's body is read by a {@link BoundedBody}: one larger than {@code hub.max_response_bytes} (by its
 * {@code Content-Length}, or counted as it arrives) fails the job for good ({@code HUB_REJECTED}) with nothing of
 * it kept. The whole exchange, headers and body, ends by {@code hub.request_timeout_ms} after it was sent: the JDK
 * client's request timeout only covers the wait for the headers, so a timer ends the body's read at that deadline
 * and closes the connection ({@code HUB_TIMEOUT}, counted against the breaker like any timeout). The deadline lies
 * inside the permit's lease (request timeout plus grace), so a Hub trickling a body never sees more requests in
 * flight than the fleet limit. Both kinds of cut answer keep their permit until its lease ends: the Hub may still be
 * sending. Before it waits for a permit, each call takes room for an answer of {@code hub.max_response_bytes} in the
 * node's {@link BodyBudget} (a quarter of the heap by default), which bounds the bodies being read or waiting to be
 * written, whatever the node's concurrency.
 */
public final class HubClient implements AutoCloseable, MeterBinder {

    /** Marks the moment a job's real work begins (it holds a permit); see the worker's drain. */
    public interface StartSignal {
        void started();

        /**
         * Asked right before the request goes out, with its permit held: false sends nothing (the fleet is paused),
         * and the call fails not attempted.
         */
        default boolean mayStart() {
            return true;
        }
    }

    private static final Logger log = LoggerFactory.getLogger(HubClient.class);
    /** Where {@link #closeAbortedConnectionsNow()} sends: nowhere, refused at once. */
    private static final URI SELECTOR_WAKE_UP = URI.create("http://127.0.0.1:0/");

    private final HubConfig config;
    private final HubLimiter limiter;
    private final HttpClient http;
    private final Duration maxWait;
    private final Clock clock;
    private final HubBreaker breaker;
    private final HubCounts counts = new HubCounts();
    private final RetryAfter retryAfter;
    private final BodyBudget budget;
    private final ScheduledExecutorService deadlines;

    /** A client with the default breaker ({@code [breaker]} defaults). */
    public HubClient(HubConfig config, HubLimiter limiter) {
        this(config, SluiceConfig.ofDefaults().breaker(), limiter, Clock.systemUTC());
    }

    /** A client whose body budget is a quarter of this JVM's heap (see {@link BodyBudget#forHeap}). */
    public HubClient(HubConfig config, BreakerConfig breakerConfig, HubLimiter limiter, Clock clock) {
        this(config, breakerConfig, limiter, clock,
                BodyBudget.forHeap(config.maxResponseBytes(), Runtime.getRuntime().maxMemory()));
    }

    /** @param budget the node's room for Hub bodies; it must hold one answer of {@code hub.max_response_bytes} (charged twice its size) */
    public HubClient(HubConfig config, BreakerConfig breakerConfig, HubLimiter limiter, Clock clock, BodyBudget budget) {
        long largest = BodyBudget.heapCost(config.maxResponseBytes());
        if (budget.capacityBytes() < largest) {
            throw new IllegalArgumentException("a Hub body budget of " + budget.capacityBytes() + " bytes cannot hold "
                    + "one answer of hub.max_response_bytes (" + config.maxResponseBytes() + ", charged " + largest + ")");
        }
        this.config = config;
        this.limiter = limiter;
        this.clock = clock;
        this.budget = budget;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(config.connectTimeoutMs()))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        this.maxWait = Duration.ofMillis(Math.max(1_000, config.requestTimeoutMs()));
        this.retryAfter = new RetryAfter(Duration.ofSeconds(config.maxRetryAfterSecs()), clock, counts.retryAfterCapped);
        this.breaker = new HubBreaker(breakerConfig, clock, counts.breakerRejections);
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("sluice-hub-deadlines").daemon().factory());
        timers.setRemoveOnCancelPolicy(true); // one timer per request, nearly all cancelled when the answer is in
        this.deadlines = timers;
        // A handler that never released its body gives the room back when its job's thread ends.
        deadlines.scheduleWithFixedDelay(() -> {
            int released = budget.releaseAbandoned();
            if (released > 0) {
                log.debug("{} Hub bodies were held by jobs that ended without releasing them; their room is back",
                        released);
            }
        }, 1, 1, TimeUnit.SECONDS);
        log.info("Hub answers: at most {} bytes each (hub.max_response_bytes), {} bytes of heap for all being read "
                        + "or held at once on this node, each charged twice its size ({} answers of the largest size)",
                config.maxResponseBytes(), budget.capacityBytes(), budget.capacityBytes() / largest);
    }

    public void addBreakerListener(BreakerListener listener) {
        breaker.addListener(listener);
    }

    /** The breaker's state now. */
    public BreakerListener.State breakerState() {
        return breaker.state();
    }

    /**
     * The body of the Hub's answer for {@code key}. Its room in the {@link BodyBudget} stays taken until this thread
     * calls {@link BodyBudget#releaseHeldByCurrentThread()}, fetches again, or ends.
     */
    public byte[] fetch(String key, StartSignal signal) {
        if (breaker.refuses()) {
            throw breaker.refused(key);
        }
        long deadline = System.nanoTime() + maxWait.toNanos();
        // A thread asking for its next body is done with its last one, which must not stand in the way of its room.
        BodyBudget.releaseHeldByCurrentThread();
        BodyBudget.Reservation room = reserveRoom(key);
        boolean handedOver = false;
        try {
            byte[] body = call(key, signal, deadline, room);
            room.shrinkTo(body.length);
            room.keepForCurrentThread();
            handedOver = true;
            return body;
        } finally {
            if (!handedOver) {
                room.close();
            }
        }
    }

    /** Room for one answer of the largest size; waited for before the permit, so no permit is held meanwhile. */
    private BodyBudget.Reservation reserveRoom(String key) {
        BodyBudget.Reservation room;
        try {
            room = budget.reserve(config.maxResponseBytes(), maxWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE,
                    "interrupted while waiting for room for the Hub answer for " + key, null);
        }
        if (room == null) {
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, "no room for the Hub answer for " + key
                    + " within " + maxWait.toMillis() + " ms: " + budget.reservedBytes() + " of "
                    + budget.capacityBytes() + " bytes of this node's Hub body budget taken by " + budget.bodies()
                    + " answers, " + budget.waiting() + " calls waiting (each is charged twice hub.max_response_bytes = "
                    + config.maxResponseBytes() + " until its size is known)", null);
        }
        return room;
    }

    private byte[] call(String key, StartSignal signal, long deadline, BodyBudget.Reservation room) {
        HubLimiter.Permit permit;
        try {
            permit = limiter.acquire(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, "interrupted while waiting for a Hub permit", null);
        }
        if (permit == null) {
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE,
                    "no Hub permit and token within " + maxWait.toMillis() + " ms", null);
        }
        // Asked again right before the call: it may have opened while this job waited for its permit.
        boolean trial = breaker.halfOpen();
        if (!breaker.tryAcquirePermission()) {
            permit.close(); // nothing was sent
            throw breaker.refused(key);
        }
        if (!signal.mayStart()) {
            breaker.releasePermission();
            permit.close(); // nothing was sent
            throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, "the fleet is paused: " + key + " not sent", null);
        }
        signal.started();
        long start = System.nanoTime();
        HttpResponse<BoundedBody.Handover> response;
        try {
            response = sendOnTime(key, permit, deadline, room, signal);
        } catch (IOException e) {
            if (e instanceof TokenNotRenewed) {
                permit.close(); // nothing was sent
                breaker.releasePermission();
                throw SluiceException.notAttempted(ErrorKind.BACKPRESSURE, e.getMessage(), null);
            }
            counts.failures.increment();
            if (e instanceof BoundedBody.TooLarge) {
                // The Hub answered: not its failure for the breaker. Cut mid-answer, so the Hub may still be sending.
                counts.bodiesTooLarge.increment();
                SluiceException failure = new SluiceException(ErrorKind.HUB_REJECTED, e.getMessage(), e);
                breaker.onError(System.nanoTime() - start, failure);
                permit.keepUntilLeaseEnd();
                throw failure;
            }
            if (SingleSendBody.refusedResend(e)) {
                counts.resendsRefused.increment();
            }
            ErrorKind kind = HubErrors.classify(e);
            if (kind.timeout()) {
                counts.timeouts.increment();
            }
            if (e instanceof BoundedBody.TimedOut) {
                counts.bodyTimeouts.increment();
            }
            SluiceException failure = new SluiceException(kind, e instanceof BoundedBody.TimedOut ? e.getMessage()
                    : "Hub request for " + key + " failed: " + e, e);
            breaker.onError(System.nanoTime() - start, failure);
            if (neverSent(e)) {
                permit.close();
            } else {
                permit.keepUntilLeaseEnd();
            }
            throw trial ? breaker.failedTrial(failure) : failure;
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
                breaker.onSuccess(elapsed);
                return response.body().take();
            }
            ErrorKind kind = ErrorKind.ofHubStatus(status);
            Duration retryAfter = response.headers().firstValue("Retry-After").map(this::retryAfter).orElse(null);
            SluiceException failure;
            if (kind == ErrorKind.HUB_RATE_LIMITED) {
                counts.rateLimited.increment();
                limiter.pauseFor(retryAfter == null ? kind.suggestedRetryDelay() : retryAfter);
                failure = SluiceException.notAttempted(kind, "Hub answered 429 for " + key, retryAfter);
            } else {
                counts.failures.increment();
                if (kind == ErrorKind.HUB_TIMEOUT) {
                    counts.timeouts.increment();
                }
                failure = new SluiceException(kind, "Hub answered " + status + " for " + key, null, retryAfter);
            }
            breaker.onError(elapsed, failure);
            throw trial ? breaker.failedTrial(failure) : failure;
        } finally {
            permit.close();
        }
    }

    /**
     * Sends the request while its permit's token is good. An attempt that would leave too late is held back before
     * its first byte ({@link SingleSendBody}) and goes again on a new token, the permit kept; when no new token
     * comes before {@code deadline} the job is rescheduled (backpressure) with nothing sent. Each attempt's answer
     * is read by a {@link BoundedBody} that a timer expires {@code hub.request_timeout_ms} after the send.
     *
     * @throws BoundedBody.TooLarge when the answer's body is over {@code hub.max_response_bytes}
     * @throws BoundedBody.TimedOut when the answer was not in full by the deadline
     */
    private HttpResponse<BoundedBody.Handover> sendOnTime(String key, HubLimiter.Permit permit, long deadline,
                                            BodyBudget.Reservation room, StartSignal signal)
            throws IOException, InterruptedException {
        URI uri = uriFor(key);
        while (true) {
            BoundedBody body = new BoundedBody(key, config.maxResponseBytes(), room, counts.bodyBytesRead,
                    config.requestTimeoutMs());
            // Counted once per attempt, whichever comes first: its headers leaving, or its failing before they did.
            AtomicBoolean counted = new AtomicBoolean();
            Runnable count = () -> {
                if (counted.compareAndSet(false, true)) {
                    counts.requests.increment();
                }
            };
            SingleSendBody out = new SingleSendBody(permit::onTime, count);
            ScheduledFuture<?> cut = deadlines.schedule(body::expire, config.requestTimeoutMs(), TimeUnit.MILLISECONDS);
            try {
                return http.send(request(uri, out), body);
            } catch (IOException e) {
                IOException why = body.failure();
                if (why != null) {
                    closeAbortedConnectionsNow();
                    throw why; // the JDK client's wrapper says less
                }
                if (!SingleSendBody.tokenMissed(e)) {
                    count.run(); // a refused connect is a request, as it was when counted at the start
                    throw e;
                }
                counts.tokensMissed.increment();
                long left = deadline - System.nanoTime();
                if (!signal.mayStart()) {
                    throw new TokenNotRenewed(key + " (the fleet was paused meanwhile)", e); // nothing was sent
                }
                if (left <= 0 || !permit.renewToken(Duration.ofNanos(left)) || !signal.mayStart()) {
                    throw new TokenNotRenewed(key, e);
                }
            } catch (InterruptedException e) {
                count.run();
                body.abandon();
                closeAbortedConnectionsNow();
                throw e;
            } finally {
                cut.cancel(false);
            }
        }
    }

    /**
     * Makes the JDK client finish closing the connections it was told to close. A connection closed while it is
     * registered with the client's selector is only half-closed (the Hub reads end-of-file, but its writes still
     * succeed) until the selector thread next wakes, which an idle client does only every 3 s (seen on JDK 25 in
     * about a third of fresh clients' first aborted answers): past the permit's lease with the default grace. A
     * request with a timeout wakes it; this one goes to port 0 of the loopback interface, where a connection is
     * refused at once, so nothing reaches any server, and it is not a Hub request. Once now and once a little later,
     * should the client finish its close after the sender heard of the abort.
     */
    private void closeAbortedConnectionsNow() {
        wakeSelector();
        try {
            deadlines.schedule(this::wakeSelector, 50, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // closing: the connections go with the client
        }
    }

    private void wakeSelector() {
        http.sendAsync(HttpRequest.newBuilder(SELECTOR_WAKE_UP).timeout(Duration.ofMillis(20)).build(),
                HttpResponse.BodyHandlers.discarding());
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

    /** A {@code Retry-After} value as a delay of at most {@code hub.max_retry_after_secs} (see {@link RetryAfter}). */
    Duration retryAfter(String value) {
        return retryAfter.parse(value);
    }







    /** What {@link #warmUp} did. */
    public record WarmUp(int requests, Duration took, Duration first, Duration slowestOfLastTen) {
    }

    /**
     * Readies the send path before the node takes its first job: sends {@code requests} requests, {@code parallel} at
     * a time, exactly as Hub requests are sent, to a throwaway server on the loopback interface, never to the Hub
     * (see {@link HubWarmUp}). A failure is logged, not thrown.
     */
    public WarmUp warmUp(int requests, int parallel) {
        return HubWarmUp.run(http, uri -> request(uri, new SingleSendBody()), config.baseUrl().getHost(), requests,
                parallel);
    }



    /**
     * The client's meters: its counts ({@code sluice_hub_*_total}), its body budget, and its breaker through
     * Resilience4j's own binder ({@code resilience4j_circuitbreaker_*{name="hub"}}).
     */
    @Override
    public void bindTo(MeterRegistry meters) {
        counts.bindTo(meters);
        Gauge.builder("sluice.hub.body_budget.capacity", budget, BodyBudget::capacityBytes).baseUnit("bytes")
                .description("Heap this node lets Hub answer bodies take at once (each charged twice its size)")
                .register(meters);
        Gauge.builder("sluice.hub.body_budget.reserved", budget, BodyBudget::reservedBytes).baseUnit("bytes")
                .description("Hub body budget taken by answers being read or held").register(meters);
        Gauge.builder("sluice.hub.body_budget.waiting", budget, BodyBudget::waiting)
                .description("Hub calls waiting for room in the body budget").register(meters);
        breaker.bindTo(meters);
    }

    /** What this client counted since start. */
    public HubCounts counts() {
        return counts;
    }

    /** The node's room for Hub bodies. */
    public BodyBudget bodyBudget() {
        return budget;
    }




    @Override
    public void close() {
        deadlines.shutdownNow();
        http.close();
    }
}
