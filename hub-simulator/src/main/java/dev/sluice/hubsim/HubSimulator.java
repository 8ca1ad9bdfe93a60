package dev.sluice.hubsim;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A stand-in for the Hub, the rate-limited upstream HTTP API, for demos, tests and benchmarks. It answers
 * {@code GET {pathPrefix}{key}} with a deterministic JSON document for the key
 * ({@code {"key":"k","value":"<hex SHA-256 of the key's UTF-8 bytes>","version":1}}) after a configurable latency,
 * injects errors and outages on demand, enforces limits of its own, and reports what it observed
 * ({@link #stats()}, or {@code GET /admin/stats}).
 *
 * <pre>{@code
 * try (var hub = HubSimulator.builder().latencyMs(20).maxRequestsPerSecond(10).maxInFlight(5).build().start()) {
 *     URI uri = hub.uriFor("some-key");        // http://127.0.0.1:<free port>/v1/backfill/some-key
 *     ...
 *     assertThat(hub.stats().violations().total()).isZero();
 * }
 * }</pre>
 *
 * <h2>How a Hub request is answered</h2>
 * <ol>
 *   <li>Its arrival is recorded and judged against the limits. Over a limit, with enforcement on, it is answered
 *       429 at once with a {@code Retry-After} header (seconds).</li>
 *   <li>A method other than GET is answered 405, an empty key 404.</li>
 *   <li>During an outage it is answered the outage status (503 unless set otherwise) at once.</li>
 *   <li>Otherwise the Hub waits {@code latencyMs} plus a uniform {@code [0, jitterMs]}, then answers 500 if the
 *       request is among the first {@code failFirst} for its key, else 500 with probability {@code errorRate},
 *       else 200 with the key's document, in the body shape set ({@link #setBody}): padded to a size, chunked
 *       without a {@code Content-Length}, trickled out over a time after the headers.</li>
 * </ol>
 *
 * <h2>Limits: what is enforced and what is observed</h2>
 * The window limit allows at most {@code maxRequestsPerSecond} arrivals in any sliding window {@code (t - 1 s, t]};
 * the in-flight limit allows at most {@code maxInFlight} requests being handled at once (0 means unlimited). The
 * 429 decision counts the <em>accepted</em> requests in flight (so refused requests do not lock out compliant ones)
 * and <em>all</em> arrivals in the window, accepted and refused (so a client that hammers stays refused). Every
 * arrival that breaks a limit counts as a violation, enforced or not. The observed maxima ({@code maxInFlight},
 * {@code maxWindowRequests}) count every arrival, accepted or refused, so a client that overruns the Hub cannot
 * look compliant. Both maxima are exact: the sliding window is evaluated at each arrival, where its maximum lies. A
 * request counts as in flight from its arrival until the Hub is about to write the last piece of its answer (at
 * once for a small answer; a large or trickled body keeps it in flight while it goes out), or until the client
 * hangs up mid-body (noticed at the next piece written).
 *
 * <h2>Observation periods</h2>
 * {@link #resetStats()} starts a new observation period: stats then describe only requests that arrived after it.
 * It does not affect enforcement, nor the fail-first counts (changing {@code failFirst} restarts those). The set
 * of distinct keys served grows with the keys of the period.
 *
 * <h2>Lifecycle and threads</h2>
 * {@link #start()} once, {@link #close()} (or {@link #stop()}, {@link #stop(Duration)}) when done; a stopped simulator cannot be
 * started again. Each request is handled on its own virtual thread, so hundreds of slow requests are served
 * concurrently. All methods are thread-safe; the run-time setters affect requests that arrive after them.
 */
public final class HubSimulator implements AutoCloseable {
    /** The default path prefix of Hub requests, so that {@code GET /v1/backfill/{key}} works. */
    public static final String DEFAULT_PATH_PREFIX = "/v1/backfill/";
    /** The path prefix of the admin endpoints. */
    public static final String ADMIN_PREFIX = "/admin/";

    private static final Logger log = LoggerFactory.getLogger(HubSimulator.class);
    /** Accept queue length: large enough for a burst of hundreds of new connections. */
    private static final int BACKLOG = 1024;

    private enum State { NEW, RUNNING, STOPPED }

    private final String host;
    private final int requestedPort;
    private final String pathPrefix;
    private final TrafficMonitor monitor;
    private final AtomicReference<Behaviour> behaviour;
    private final AtomicReference<Outage> outage = new AtomicReference<>(Outage.NONE);
    private final FailFirstCounter failFirst = new FailFirstCounter();
    private final int warmUpRequests;
    private final StallWatch stalls = new StallWatch();

    private State state = State.NEW;
    private HttpServer server;
    private ExecutorService executor;
    private int port = -1;

    private HubSimulator(Builder builder) {
        this.host = builder.host;
        this.requestedPort = builder.port;
        this.pathPrefix = builder.pathPrefix;
        this.behaviour = new AtomicReference<>(builder.behaviour);
        this.warmUpRequests = builder.warmUpRequests;
        this.monitor = new TrafficMonitor(
                new HubStats.Limits(builder.maxRequestsPerSecond, builder.maxInFlight, builder.enforceLimits,
                        builder.retryAfterSecs),
                builder.nanoTime);
    }

    /** A builder with the defaults: 127.0.0.1, a free port, no latency, no errors, no limits. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Binds the port and starts serving.
     *
     * @return this simulator
     * @throws IllegalStateException if it was started before
     * @throws UncheckedIOException  if the address cannot be bound
     */
    public synchronized HubSimulator start() {
        if (state != State.NEW) {
            throw new IllegalStateException("a HubSimulator starts once; this one is " + state);
        }
        HttpServer created;
        try {
            created = HttpServer.create(new InetSocketAddress(host, requestedPort), BACKLOG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + host + ":" + requestedPort + ": " + e, e);
        }
        stalls.start();
        executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("hub-simulator-", 0).factory());
        created.setExecutor(executor);
        created.createContext(pathPrefix,
                new HubHandler(pathPrefix, monitor, behaviour::get, outage::get, failFirst,
                        () -> stalls.longestWithin(TrafficMonitor.WINDOW_NANOS + TimeUnit.MILLISECONDS.toNanos(100))));
        created.createContext(ADMIN_PREFIX, new AdminHandler(this));
        created.start();
        server = created;
        port = created.getAddress().getPort();
        SelfWarmUp.run(created, port, warmUpRequests);
        state = State.RUNNING;
        log.info("Hub simulator listening on {} (GET {}<key>, stats at {}stats); {}, {}", baseUrl(), pathPrefix,
                ADMIN_PREFIX, monitor.limits(), behaviour.get());
        return this;
    }

    /**
     * Stops serving: stops accepting, waits up to {@code drain} (whole seconds) for requests being handled, then
     * ends the rest. Does nothing if already stopped.
     */
    public void stop(Duration drain) {
        Objects.requireNonNull(drain, "drain");
        synchronized (this) {
            if (state != State.RUNNING) {
                state = State.STOPPED;
                return;
            }
            state = State.STOPPED;
        }
        server.stop((int) Math.min(Integer.MAX_VALUE, drain.toSeconds()));
        executor.shutdownNow();
        stalls.close();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("Hub simulator on port {}: request handlers still running 5 s after stop", port);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("Hub simulator on port {} stopped", port);
    }

    /** Stops at once, ending requests being handled; the same as {@link #close()}. */
    public void stop() {
        stop(Duration.ZERO);
    }

    /** Stops at once, ending requests being handled. */
    @Override
    public void close() {
        stop();
    }

    /**
     * The port it listens on.
     *
     * @throws IllegalStateException if it was never started
     */
    public synchronized int port() {
        if (port < 0) {
            throw new IllegalStateException("the HubSimulator is not started");
        }
        return port;
    }

    /** {@code http://host:port}, without a trailing slash; the Hub base URL for clients. */
    public String baseUrl() {
        var urlHost = host.contains(":") ? "[" + host + "]" : host;
        return "http://" + urlHost + ":" + port();
    }

    /** The path prefix of Hub requests, starting and ending with a slash. */
    public String pathPrefix() {
        return pathPrefix;
    }

    /** The URI of the Hub request for a key, with the characters a path cannot hold percent-encoded. */
    public URI uriFor(String key) {
        try {
            // toASCIIString also escapes non-ASCII characters, as UTF-8.
            return URI.create(new URI("http", null, host, port(), pathPrefix + key, null, null).toASCIIString());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("no URI for key '" + key + "': " + e.getMessage(), e);
        }
    }

    /** What the Hub observed in the current observation period. */
    public HubStats stats() {
        return monitor.snapshot();
    }

    /**
     * Every request answered since the start (up to a million), with its arrival and answer times on this process's
     * {@code System.nanoTime()}: for judging limits that change during a run, window by window.
     */
    public java.util.List<Served> served() {
        return monitor.served();
    }

    /** Starts a new observation period; see the class description. */
    public void resetStats() {
        monitor.reset();
        log.info("Hub simulator stats reset");
    }

    /**
     * Sets the latency of requests that arrive from now on.
     *
     * @param latencyMs fixed delay, 0 to 600000
     * @param jitterMs  uniform extra delay bound, 0 to 600000
     */
    public void setLatency(long latencyMs, long jitterMs) {
        changeBehaviour(current -> current.withLatency(latencyMs, jitterMs));
    }

    /** Sets the share of requests answered 500, from 0.0 to 1.0. */
    public void setErrorRate(double errorRate) {
        changeBehaviour(current -> current.withErrorRate(errorRate));
    }

    /** Makes the first {@code failFirst} requests (0 to 1000000) for every key, counted from now, answer 500. */
    public void setFailFirst(int failFirst) {
        changeBehaviour(current -> current.withFailFirst(failFirst));
    }

    /**
     * Sets how the bodies of 200 answers to requests that arrive from now on go out (see {@link BodyShape}).
     *
     * @param bytes     the body's size: the key's document padded to exactly this many bytes, 0 to 1073741824;
     *                  0 for the plain document
     * @param chunked   chunked transfer encoding, without a {@code Content-Length}
     * @param trickleMs spread the body over this many ms after the headers, 0 to 600000; 0 sends it at once
     */
    public void setBody(long bytes, boolean chunked, long trickleMs) {
        var body = new BodyShape(bytes, chunked, trickleMs);
        changeBehaviour(current -> current.withBody(body));
    }

    /** Starts an outage: every Hub request is answered {@code status} (400 to 599) until {@link #endOutage()}. */
    public void startOutage(int status) {
        outage.set(new Outage(true, status));
        log.info("Hub simulator outage started: answering {}", status);
    }

    /** Ends an outage; does nothing if there is none. */
    public void endOutage() {
        outage.set(new Outage(false, outage.get().status()));
        log.info("Hub simulator outage ended");
    }

    /** Whether an outage is in progress. */
    public boolean inOutage() {
        return outage.get().on();
    }

    /** Applies a change to the behaviour atomically; a change of failFirst restarts the per-key counts. */
    void changeBehaviour(UnaryOperator<Behaviour> change) {
        Behaviour before;
        Behaviour after;
        do {
            before = behaviour.get();
            after = change.apply(before);
        } while (!behaviour.compareAndSet(before, after));
        if (after.failFirst() != before.failFirst()) {
            failFirst.clear();
        }
        log.info("Hub simulator behaviour changed to {}", after);
    }

    /** The settings document of {@code GET /admin/settings}. */
    String settingsJson() {
        var now = behaviour.get();
        var down = outage.get();
        var limits = monitor.limits();
        return "{\"pathPrefix\":" + Json.string(pathPrefix)
                + ",\"latencyMs\":" + now.latencyMs()
                + ",\"jitterMs\":" + now.jitterMs()
                + ",\"errorRate\":" + now.errorRate()
                + ",\"failFirst\":" + now.failFirst()
                + ",\"bodyBytes\":" + now.body().bytes()
                + ",\"chunked\":" + now.body().chunked()
                + ",\"bodyTrickleMs\":" + now.body().trickleMs()
                + ",\"outage\":{\"on\":" + down.on() + ",\"status\":" + down.status() + "}"
                + ",\"limits\":" + limits.toJson()
                + "}";
    }

    /**
     * Settings of a {@link HubSimulator}. Each setter checks its value at once and throws
     * {@link IllegalArgumentException} naming the setting, the rule and the value, e.g.
     * {@code errorRate must be between 0.0 and 1.0, but was 2.0}.
     */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port;
        private String pathPrefix = DEFAULT_PATH_PREFIX;
        private Behaviour behaviour = Behaviour.DEFAULT;
        private int maxRequestsPerSecond;
        private int maxInFlight;
        private boolean enforceLimits = true;
        private int retryAfterSecs = 1;
        private LongSupplier nanoTime = System::nanoTime;
        private int warmUpRequests = 300;

        private Builder() {
        }

        /**
         * Requests the simulator sends itself at start, over loopback and not counted, so that a cold JVM does not
         * record its first real arrivals late; default 300, 0 for none.
         */
        public Builder warmUpRequests(int warmUpRequests) {
            this.warmUpRequests = InvalidSettingException.requireBetween("warmUpRequests", warmUpRequests, 0, 100_000);
            return this;
        }

        /** The TCP port, 0 to 65535; 0 (the default) picks a free port. */
        public Builder port(int port) {
            this.port = InvalidSettingException.requireBetween("port", port, 0, 65_535);
            return this;
        }

        /** The address to bind, a host name or IP literal; default {@code 127.0.0.1}. */
        public Builder host(String host) {
            if (host == null || host.isBlank()) {
                throw new InvalidSettingException("host", "must not be blank", "'" + host + "'");
            }
            this.host = host.strip();
            return this;
        }

        /**
         * The path prefix of Hub requests; default {@value HubSimulator#DEFAULT_PATH_PREFIX}. It must start with a
         * slash and may not lie under {@value HubSimulator#ADMIN_PREFIX}; a missing trailing slash is added.
         */
        public Builder pathPrefix(String pathPrefix) {
            if (pathPrefix == null || !pathPrefix.startsWith("/") || pathPrefix.chars().anyMatch(
                    c -> c == '?' || c == '#' || c == '%' || Character.isWhitespace(c))) {
                throw new InvalidSettingException("pathPrefix",
                        "must start with '/' and hold no '?', '#', '%' or whitespace", "'" + pathPrefix + "'");
            }
            var normalized = pathPrefix.endsWith("/") ? pathPrefix : pathPrefix + "/";
            if (normalized.startsWith(ADMIN_PREFIX)) {
                throw new InvalidSettingException("pathPrefix", "must not lie under " + ADMIN_PREFIX,
                        "'" + pathPrefix + "'");
            }
            this.pathPrefix = normalized;
            return this;
        }

        /** Fixed delay before each answer, 0 to 600000 ms; default 0. */
        public Builder latencyMs(long latencyMs) {
            behaviour = behaviour.withLatency(latencyMs, behaviour.jitterMs());
            return this;
        }

        /** Bound of a uniform extra delay added to each answer, 0 to 600000 ms; default 0. */
        public Builder jitterMs(long jitterMs) {
            behaviour = behaviour.withLatency(behaviour.latencyMs(), jitterMs);
            return this;
        }

        /** Share of requests answered 500, 0.0 to 1.0; default 0. */
        public Builder errorRate(double errorRate) {
            behaviour = behaviour.withErrorRate(errorRate);
            return this;
        }

        /** The first this many requests for each distinct key are answered 500, 0 to 1000000; default 0. */
        public Builder failFirst(int failFirst) {
            behaviour = behaviour.withFailFirst(failFirst);
            return this;
        }

        /**
         * The size of 200 answers' bodies: the key's document padded to exactly this many bytes, 0 to 1073741824;
         * default 0, the plain document.
         */
        public Builder bodyBytes(long bodyBytes) {
            behaviour = behaviour.withBody(new BodyShape(bodyBytes, behaviour.body().chunked(), behaviour.body().trickleMs()));
            return this;
        }

        /** Whether 200 answers go out chunked, without a {@code Content-Length}; default false. */
        public Builder chunkedBodies(boolean chunked) {
            behaviour = behaviour.withBody(new BodyShape(behaviour.body().bytes(), chunked, behaviour.body().trickleMs()));
            return this;
        }

        /**
         * Spreads each 200 answer's body over this many ms after its headers, 0 to 600000; default 0 (at once). A
         * client that hangs up mid-body is noticed at the next piece.
         */
        public Builder bodyTrickleMs(long trickleMs) {
            behaviour = behaviour.withBody(new BodyShape(behaviour.body().bytes(), behaviour.body().chunked(), trickleMs));
            return this;
        }

        /** Most requests in any sliding one-second window, at least 0; 0 (the default) means unlimited. */
        public Builder maxRequestsPerSecond(int maxRequestsPerSecond) {
            this.maxRequestsPerSecond =
                    InvalidSettingException.requireAtLeast("maxRequestsPerSecond", maxRequestsPerSecond, 0);
            return this;
        }

        /** Most requests handled at one time, at least 0; 0 (the default) means unlimited. */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = InvalidSettingException.requireAtLeast("maxInFlight", maxInFlight, 0);
            return this;
        }

        /** Whether requests over a limit are answered 429 (the default) or only counted as violations. */
        public Builder enforceLimits(boolean enforceLimits) {
            this.enforceLimits = enforceLimits;
            return this;
        }

        /**
         * The {@code Retry-After} value sent with a 429, at least 0 seconds; default 1. Values beyond a day play a
         * misbehaving Hub, for clients that must cap them.
         */
        public Builder retryAfterSecs(int retryAfterSecs) {
            this.retryAfterSecs = InvalidSettingException.requireAtLeast("retryAfterSecs", retryAfterSecs, 0);
            return this;
        }

        /** The time source of the sliding window, for tests; {@code System::nanoTime} by default. */
        Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        /** A simulator with these settings, not yet started. */
        public HubSimulator build() {
            return new HubSimulator(this);
        }
    }
}
