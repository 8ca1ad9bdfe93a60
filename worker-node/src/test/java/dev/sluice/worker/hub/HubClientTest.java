package dev.sluice.worker.hub;

import com.sun.net.httpserver.HttpServer;
import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.testkit.BlackHole;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.limits.HubLimiter;
import dev.sluice.worker.limits.LocalHubLimiter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

/** The Hub client against the Hub simulator (and a raw socket server) over real HTTP. */
class HubClientTest {
    private static final HubClient.StartSignal NO_SIGNAL = () -> { };

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private HubSimulator hub(HubSimulator.Builder builder) {
        HubSimulator hub = builder.build().start();
        closing.add(hub);
        return hub;
    }

    private HubClient client(String baseUrl, HubLimiter limiter, String... overrides) {
        List<String> all = new ArrayList<>(List.of("hub.base_url", baseUrl, "breaker.open_secs", "1"));
        all.addAll(List.of(overrides));
        SluiceConfig config = TestConfigs.config("redis://127.0.0.1:1", all.toArray(String[]::new));
        HubClient client = new HubClient(config.hub(), config.breaker(), limiter, Clock.systemUTC());
        closing.add(client);
        return client;
    }

    private static SluiceException fetchFails(HubClient client, String key) {
        return catchThrowableOfType(SluiceException.class, () -> client.fetch(key, NO_SIGNAL));
    }

    @Test
    void breakerOpensAfterFiveConsecutiveFailuresRejectsWithoutCallingTheHubThenHalfOpensAndCloses() {
        HubSimulator hub = hub(HubSimulator.builder());
        HubClient client = client(hub.baseUrl(), new LocalHubLimiter(5, 1_000));
        List<BreakerListener.Transition> transitions = new CopyOnWriteArrayList<>();
        client.addBreakerListener(transitions::add);

        hub.startOutage(503);
        for (int i = 1; i <= 5; i++) {
            SluiceException e = fetchFails(client, "k" + i);
            assertThat(e.kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
            assertThat(e.attempted()).isTrue();
            assertThat(client.breakerState()).as("after %d failures", i)
                    .isEqualTo(i < 5 ? BreakerListener.State.CLOSED : BreakerListener.State.OPEN);
        }
        assertThat(transitions).singleElement().satisfies(t -> {
            assertThat(t.from()).isEqualTo(BreakerListener.State.CLOSED);
            assertThat(t.to()).isEqualTo(BreakerListener.State.OPEN);
            assertThat(t.failedCalls()).isEqualTo(5);
            assertThat(t.bufferedCalls()).isEqualTo(5);
            assertThat(t.failureRate()).isEqualTo(100f);
        });

        SluiceException rejected = fetchFails(client, "k6");
        assertThat(rejected.kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        assertThat(rejected.attempted()).as("an open breaker costs the job no attempt").isFalse();
        assertThat(rejected.retryAfter()).as("retry when it half-opens").hasValueSatisfying(
                d -> assertThat(d).isBetween(Duration.ofMillis(1), Duration.ofSeconds(1)));
        assertThat(hub.stats().totalRequests()).as("the open breaker did not call the Hub").isEqualTo(5);
        assertThat(client.counts().breakerRejections()).isEqualTo(1);

        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).until(() -> transitions.size() == 2);
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.HALF_OPEN);
        assertThat(Duration.between(transitions.get(0).at(), transitions.get(1).at()))
                .as("open for breaker.open_secs").isGreaterThanOrEqualTo(Duration.ofMillis(950));

        SluiceException failedTrial = fetchFails(client, "trial-1");
        assertThat(failedTrial.kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        assertThat(failedTrial.attempted()).as("a failed trial call is the breaker's probe, not the job's attempt").isFalse();
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.OPEN);

        hub.endOutage();
        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).until(() -> transitions.size() == 4);
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.HALF_OPEN);
        assertThat(new String(client.fetch("trial-2", NO_SIGNAL), StandardCharsets.UTF_8)).contains("\"key\":\"trial-2\"");
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.CLOSED);
        assertThat(transitions).extracting(BreakerListener.Transition::to).containsExactly(
                BreakerListener.State.OPEN, BreakerListener.State.HALF_OPEN, BreakerListener.State.OPEN,
                BreakerListener.State.HALF_OPEN, BreakerListener.State.CLOSED);
        assertThat(hub.stats().totalRequests()).isEqualTo(7);
    }

    @Test
    void rateLimitedAndRejectedAnswersNeverOpenTheBreaker() {
        HubSimulator hub = hub(HubSimulator.builder().maxRequestsPerSecond(1).retryAfterSecs(0));
        HubClient client = client(hub.baseUrl(), new LocalHubLimiter(5, 1_000), "hub.path", "/v1/backfill/{key}");
        int limited = 0;
        for (int i = 0; i < 12; i++) {
            SluiceException e = fetchFails(client, "k" + i);
            if (e != null && e.kind() == ErrorKind.HUB_RATE_LIMITED) {
                limited++;
            }
        }
        HubClient missing = client(hub.baseUrl(), new LocalHubLimiter(5, 1_000), "hub.path", "/nothing/{key}");
        for (int i = 0; i < 8; i++) {
            assertThat(fetchFails(missing, "k" + i).kind()).isIn(ErrorKind.HUB_REJECTED, ErrorKind.HUB_RATE_LIMITED);
        }
        assertThat(limited).isGreaterThanOrEqualTo(5);
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.CLOSED);
        assertThat(missing.breakerState()).isEqualTo(BreakerListener.State.CLOSED);
    }

    @Test
    void aHugeRetryAfterIsCappedAtMaxRetryAfterSecs() {
        HubSimulator hub = hub(HubSimulator.builder().maxRequestsPerSecond(1).retryAfterSecs(999_999_999));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub.baseUrl(), limiter, "hub.max_retry_after_secs", "7");

        SluiceException limited = null;
        for (int i = 0; i < 20 && limited == null; i++) {
            SluiceException e = fetchFails(client, "k" + i);
            limited = e != null && e.kind() == ErrorKind.HUB_RATE_LIMITED ? e : null;
        }

        assertThat(limited).as("the Hub answered 429").isNotNull();
        assertThat(limited.retryAfter()).as("the job's retry delay").hasValue(Duration.ofSeconds(7));
        assertThat(limiter.pauses).as("the fleet's pause").containsExactly(Duration.ofSeconds(7));
        assertThat(client.counts().rateLimited()).isEqualTo(1);
        assertThat(client.counts().retryAfterCapped()).isEqualTo(1);
    }

    @Test
    void retryAfterIsReadAsSecondsOrAnHttpDateAndBadValuesCountAsAbsent() {
        Clock clock = Clock.fixed(Instant.parse("2026-03-01T12:00:00Z"), ZoneOffset.UTC);
        SluiceConfig config = TestConfigs.config("redis://127.0.0.1:1", "hub.max_retry_after_secs", "300");
        HubClient client = new HubClient(config.hub(), config.breaker(), new RecordingLimiter(), clock);
        closing.add(client);

        assertThat(client.retryAfter("0")).isEqualTo(Duration.ZERO);
        assertThat(client.retryAfter(" 120 ")).isEqualTo(Duration.ofSeconds(120));
        assertThat(client.retryAfter("300")).isEqualTo(Duration.ofSeconds(300));
        assertThat(client.retryAfter("Sun, 01 Mar 2026 12:01:30 GMT")).isEqualTo(Duration.ofSeconds(90));
        assertThat(client.retryAfter("Sun, 01 Mar 2026 11:00:00 GMT")).as("a date past").isEqualTo(Duration.ZERO);
        assertThat(client.counts().retryAfterCapped()).isZero();

        assertThat(client.retryAfter("301")).isEqualTo(Duration.ofSeconds(300));
        assertThat(client.retryAfter("999999999")).isEqualTo(Duration.ofSeconds(300));
        assertThat(client.retryAfter("99999999999999999999999")).as("beyond a long").isEqualTo(Duration.ofSeconds(300));
        assertThat(client.retryAfter("Fri, 31 Dec 9999 23:59:59 GMT")).isEqualTo(Duration.ofSeconds(300));
        assertThat(client.counts().retryAfterCapped()).isEqualTo(4);

        for (String bad : new String[] {"-5", "-999999999", "1.5", "soon", "", "0x10", "2026-03-01T12:05:00Z"}) {
            assertThat(client.retryAfter(bad)).as("'%s'", bad).isNull();
        }
        assertThat(client.counts().retryAfterCapped()).isEqualTo(4);
    }

    @Test
    void aNegativeRetryAfterOnA429PausesForTheDefaultDelay() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        server.createContext("/", exchange -> {
            try (exchange) {
                exchange.getResponseHeaders().set("Retry-After", "-30");
                exchange.sendResponseHeaders(429, -1);
            }
        });
        server.start();
        closing.add(() -> server.stop(0));
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client("http://127.0.0.1:" + server.getAddress().getPort(), limiter);

        SluiceException e = fetchFails(client, "k1");
        assertThat(e.kind()).isEqualTo(ErrorKind.HUB_RATE_LIMITED);
        assertThat(e.retryAfter()).as("the job takes its usual retry delay").isEmpty();
        assertThat(limiter.pauses).containsExactly(ErrorKind.HUB_RATE_LIMITED.suggestedRetryDelay());
        assertThat(client.counts().retryAfterCapped()).isZero();
    }

    @Test
    void permitOfATimedOutRequestStaysCountedUntilItsLease() {
        HubSimulator hub = hub(HubSimulator.builder());
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub.baseUrl(), limiter, "hub.request_timeout_ms", "1500", "hub.connect_timeout_ms", "1500");
        client.fetch("fast", NO_SIGNAL); // connected and warmed up: the timeout below is the request's, not the connect's
        assertThat(limiter.closed).as("an answered request releases at once").hasValue(1);

        hub.setLatency(4_000, 0);
        SluiceException e = fetchFails(client, "slow");
        assertThat(e.kind()).isEqualTo(ErrorKind.HUB_TIMEOUT);
        assertThat(limiter.closed).as("after %s", e.getCause()).hasValue(1);
        assertThat(limiter.keptUntilLeaseEnd).hasValue(1);
    }

    @Test
    void refusedConnectionReleasesItsPermitAtOnce() throws IOException {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client("http://127.0.0.1:" + port, limiter);
        assertThat(fetchFails(client, "k").kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        assertThat(limiter.closed).hasValue(1);
        assertThat(limiter.keptUntilLeaseEnd).hasValue(0);
    }

    /**
     * The JDK client sends a GET again on its own when a pooled connection closes before any byte of the answer
     * (here: the server reads the second request and hangs up). This server counts what reaches it.
     */
    private static final class HangUpOnSecondRequest implements AutoCloseable {
        final ServerSocket server;
        final AtomicInteger requests = new AtomicInteger();
        final Thread acceptor;

        HangUpOnSecondRequest() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = Thread.ofVirtual().start(() -> {
                int connections = 0;
                while (!server.isClosed()) {
                    try {
                        Socket socket = server.accept();
                        int connection = ++connections;
                        Thread.ofVirtual().start(() -> serve(socket, connection));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        String baseUrl() {
            return "http://127.0.0.1:" + server.getLocalPort();
        }

        private void serve(Socket socket, int connection) {
            try (socket; InputStream in = socket.getInputStream(); OutputStream out = socket.getOutputStream()) {
                int onThisConnection = 0;
                while (readHead(in)) {
                    requests.incrementAndGet();
                    onThisConnection++;
                    if (connection == 1 && onThisConnection == 2) {
                        return; // hang up without a byte of answer
                    }
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            } catch (IOException e) {
                // the client went away
            }
        }

        private static boolean readHead(InputStream in) throws IOException {
            int matched = 0;
            int b;
            while ((b = in.read()) >= 0) {
                matched = (b == '\r' || b == '\n') ? matched + 1 : 0;
                if (matched == 4) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    @Test
    void jdkClientResendsAGetOnItsOwnWhenAPooledConnectionHangsUp() throws Exception {
        try (HangUpOnSecondRequest server = new HangUpOnSecondRequest(); HttpClient plain = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1).build()) {
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> r = plain.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/backfill/k" + i))
                        .GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
            }
            assertThat(server.requests).as("two sends, three requests at the server").hasValue(3);
        }
    }

    @Test
    void hubClientRefusesThatResendSoEveryRequestHadItsOwnPermit() throws Exception {
        try (HangUpOnSecondRequest server = new HangUpOnSecondRequest()) {
            RecordingLimiter limiter = new RecordingLimiter();
            HubClient client = client(server.baseUrl(), limiter);
            client.fetch("k0", NO_SIGNAL);
            SluiceException e = fetchFails(client, "k1");
            assertThat(e.kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
            assertThat(e.attempted()).isTrue();
            assertThat(client.counts().resendsRefused()).isEqualTo(1);
            assertThat(server.requests).as("two sends, two requests at the server").hasValue(2);
            assertThat(limiter.granted).hasValue(2);
            assertThat(limiter.keptUntilLeaseEnd).as("the hung-up request may still run at the Hub").hasValue(1);
        }
    }

    @Test
    void aRequestThatWouldLeaveTooLateForItsTokenIsHeldBackAndSentOnANewOne() {
        HubSimulator hub = hub(HubSimulator.builder());
        RecordingLimiter limiter = new RecordingLimiter();
        limiter.lateAttempts.set(2); // the first two attempts find their tokens too old
        HubClient client = client(hub.baseUrl(), limiter);

        assertThat(new String(client.fetch("k1", NO_SIGNAL), StandardCharsets.UTF_8)).contains("k1");
        assertThat(limiter.askedOnTime).as("asked before each attempt's first byte").hasValue(3);
        assertThat(limiter.renewals).as("a new token for each held-back attempt").hasValue(2);
        assertThat(hub.stats().totalRequests()).as("only the attempt on time reached the Hub").isEqualTo(1);
        assertThat(client.counts().requests()).isEqualTo(1);
        assertThat(client.counts().tokensMissed()).isEqualTo(2);
        assertThat(limiter.closed).as("one permit throughout, released on the answer").hasValue(1);
        assertThat(client.breakerState()).isEqualTo(BreakerListener.State.CLOSED);
    }

    @Test
    void aRequestWithoutANewTokenInTimeIsRescheduledWithNothingSent() {
        HubSimulator hub = hub(HubSimulator.builder());
        RecordingLimiter limiter = new RecordingLimiter();
        limiter.lateAttempts.set(Integer.MAX_VALUE);
        limiter.renewalGranted = false;
        HubClient client = client(hub.baseUrl(), limiter);

        SluiceException e = fetchFails(client, "k1");
        assertThat(e.kind()).isEqualTo(ErrorKind.BACKPRESSURE);
        assertThat(e.attempted()).as("the job's attempt is not spent").isFalse();
        assertThat(e.getMessage()).contains("missed its rate token's time");
        assertThat(hub.stats().totalRequests()).isZero();
        assertThat(client.counts().requests()).isZero();
        assertThat(limiter.closed).as("nothing left, so the permit is released at once").hasValue(1);
        assertThat(limiter.keptUntilLeaseEnd).hasValue(0);
        for (int i = 0; i < 6; i++) {
            fetchFails(client, "k" + i);
        }
        assertThat(client.breakerState()).as("held-back requests are not Hub failures").isEqualTo(BreakerListener.State.CLOSED);
    }

    /** Every attempt counts once in sluice_hub_requests_total: one that left, and one refused at connect alike. */
    @Test
    void aRequestIsCountedOnceWhetherItLeftOrWasRefusedAtConnect() {
        HubSimulator hub = hub(HubSimulator.builder());
        HubClient client = client(hub.baseUrl(), new RecordingLimiter());
        for (int i = 0; i < 5; i++) {
            client.fetch("k" + i, NO_SIGNAL);
        }
        assertThat(client.counts().requests()).isEqualTo(hub.stats().totalRequests()).isEqualTo(5);

        HubClient refused = client("http://127.0.0.1:" + BlackHole.closedPort(), new RecordingLimiter());
        for (int i = 0; i < 3; i++) {
            assertThat(fetchFails(refused, "k" + i).kind()).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        }
        assertThat(refused.counts().requests()).isEqualTo(3);
        assertThat(refused.counts().failures()).isEqualTo(3);
    }

    @Test
    void warmUpSendsThroughTheClientToLoopbackAndNothingToTheHub() {
        HubSimulator hub = hub(HubSimulator.builder());
        RecordingLimiter limiter = new RecordingLimiter();
        HubClient client = client(hub.baseUrl(), limiter);

        HubClient.WarmUp warmUp = client.warmUp(50, 4);
        assertThat(warmUp.requests()).isEqualTo(50);
        assertThat(warmUp.first()).isPositive();
        assertThat(hub.stats().totalRequests()).as("the Hub saw nothing of the warm-up").isZero();
        assertThat(limiter.granted).as("no permit or token spent on it").hasValue(0);
        assertThat(client.counts().requests()).isZero();
        client.fetch("k1", NO_SIGNAL);
        assertThat(hub.stats().totalRequests()).isEqualTo(1);
    }

    /** Grants everything and records how each permit ended; its permits can say their tokens are too old. */
    private static final class RecordingLimiter implements HubLimiter {
        final AtomicInteger granted = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();
        final AtomicInteger keptUntilLeaseEnd = new AtomicInteger();
        final AtomicInteger askedOnTime = new AtomicInteger();
        final AtomicInteger renewals = new AtomicInteger();
        /** How many of the next send attempts find their token too old. */
        final AtomicInteger lateAttempts = new AtomicInteger();
        volatile boolean renewalGranted = true;
        final List<Duration> pauses = new CopyOnWriteArrayList<>();

        @Override
        public void pauseFor(Duration retryAfter) {
            pauses.add(retryAfter);
        }

        @Override
        public Permit acquire(Duration maxWait) {
            granted.incrementAndGet();
            return new Permit() {
                @Override
                public void close() {
                    closed.incrementAndGet();
                }

                @Override
                public void keepUntilLeaseEnd() {
                    keptUntilLeaseEnd.incrementAndGet();
                }

                @Override
                public boolean onTime() {
                    askedOnTime.incrementAndGet();
                    return lateAttempts.getAndUpdate(n -> Math.max(0, n - 1)) == 0;
                }

                @Override
                public boolean renewToken(Duration wait) {
                    renewals.incrementAndGet();
                    return renewalGranted;
                }
            };
        }
    }
}
