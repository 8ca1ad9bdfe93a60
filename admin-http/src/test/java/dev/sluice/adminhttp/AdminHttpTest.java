package dev.sluice.adminhttp;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The shared admin HTTP layer on a real socket: requests are written by hand, so that the {@code Host}, {@code Origin}
 * and {@code Content-Type} headers are exactly what a test says (the JDK's HTTP client would set some of them).
 */
class AdminHttpTest {
    private static final String TOKEN = "Authorization: Bearer s3cr3t";
    private static final String JSON = "Content-Type: application/json";

    private AdminHttp http;

    @AfterEach
    void stop() {
        if (http != null) {
            http.stop();
        }
    }

    /** A raw answer: status, header lines (lower-case names), body. */
    record Answer(int status, Map<String, String> headers, String body) {
    }

    private AdminHttp started(Set<String> hostnames) {
        http = new AdminHttp("the test endpoint (test.bind and test.port)", "127.0.0.1", 0)
                .access(BearerTokens.single("tester", "s3cr3t", "operations are off: set test.token"))
                .hostnames(hostnames, "test.hostnames")
                .headers(Map.of("X-Frame-Options", "DENY"))
                .bodies(64, true)
                .read("/health/live", ex -> Responses.json(ex, 200, Map.of("status", "UP")))
                .read("/api/boom", ex -> {
                    throw new IllegalStateException("the feed is gone");
                })
                .read("/api/query", ex -> Responses.json(ex, 200, Responses.query(ex)))
                .file("/page.txt", AdminHttpTest.class, "/page.txt", "text/plain; charset=utf-8")
                .operation("/api/echo", (who, body) -> new Operation.Result(200, Map.of("who", who, "body", body)))
                .start();
        return http;
    }

    private Answer request(String method, String path, String body, String... headers) {
        try (Socket socket = new Socket("127.0.0.1", http.port())) {
            socket.setSoTimeout(10_000);
            StringBuilder request = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
            boolean host = false;
            for (String h : headers) {
                request.append(h).append("\r\n");
                host |= h.regionMatches(true, 0, "Host:", 0, 5);
            }
            if (!host) {
                request.append("Host: 127.0.0.1:").append(http.port()).append("\r\n");
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            request.append("Content-Length: ").append(bytes.length).append("\r\nConnection: close\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.UTF_8));
            out.write(bytes);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            int status = Integer.parseInt(in.readLine().split(" ")[1]);
            Map<String, String> answerHeaders = new java.util.HashMap<>();
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                int colon = line.indexOf(':');
                answerHeaders.put(line.substring(0, colon).toLowerCase(java.util.Locale.ROOT), line.substring(colon + 1).strip());
            }
            StringBuilder rest = new StringBuilder();
            if (!method.equals("HEAD")) {
                char[] buf = new char[4096];
                for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                    rest.append(buf, 0, n);
                }
            }
            return new Answer(status, answerHeaders, rest.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Answer post(String path, String body, String... headers) {
        return request("POST", path, body, headers);
    }

    @Test
    void readEndpointsAnswerGetAndHeadOnlyWithTheConfiguredHeaders() {
        started(Set.of());

        Answer get = request("GET", "/health/live", "");
        assertThat(get.status()).isEqualTo(200);
        assertThat(get.body()).isEqualTo("{\"status\":\"UP\"}");
        assertThat(get.headers()).containsEntry("x-frame-options", "DENY").containsEntry("cache-control", "no-store");

        Answer head = request("HEAD", "/health/live", "");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.headers()).containsEntry("content-length", "15");

        for (String method : List.of("POST", "PUT", "DELETE")) {
            Answer refused = request(method, "/health/live", "{}", TOKEN, JSON);
            assertThat(refused.status()).as(method).isEqualTo(405);
            assertThat(refused.headers()).containsEntry("allow", "GET, HEAD");
            assertThat(refused.body()).contains("read-only");
        }
    }

    @Test
    void anUnknownPathIs404ListingTheKnownOnes() {
        started(Set.of());

        Answer r = request("GET", "/nothing", "");

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.body()).contains("/page.txt", "/health/live", "POST /api/echo");
    }

    @Test
    void anEndpointThatThrowsIsAnswered500NamingTheFailure() {
        started(Set.of());

        Answer r = request("GET", "/api/boom", "");

        assertThat(r.status()).isEqualTo(500);
        assertThat(r.body()).contains("the feed is gone");
        assertThat(request("GET", "/health/live", "").status()).as("the server goes on").isEqualTo(200);
    }

    @Test
    void servesFilesAndQueryParameters() {
        started(Set.of());

        Answer file = request("GET", "/page.txt", "");
        assertThat(file.status()).isEqualTo(200);
        assertThat(file.headers()).containsEntry("content-type", "text/plain; charset=utf-8");
        assertThat(file.body()).isEqualTo("a static page\n");
        assertThat(request("GET", "/api/query?a=1&b=x%20y&a=2", "").body()).isEqualTo("{\"a\":\"1\",\"b\":\"x y\"}");
        assertThatThrownBy(() -> http.file("/missing", AdminHttpTest.class, "/missing.txt", "text/plain"))
                .hasMessageContaining("no resource /missing.txt");
    }

    @Test
    void anOperationTakesPostWithAKnownTokenAndAJsonObject() {
        started(Set.of());

        Answer ok = post("/api/echo", "{\"n\":1}", TOKEN, JSON);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.body()).contains("\"who\":\"tester\"", "\"body\":{\"n\":1}");
        assertThat(post("/api/echo", "", TOKEN, JSON).body()).as("no body is an empty object").contains("\"body\":{}");

        Answer get = request("GET", "/api/echo", "", TOKEN);
        assertThat(get.status()).isEqualTo(405);
        assertThat(get.headers()).containsEntry("allow", "POST");

        Answer anonymous = post("/api/echo", "{}", JSON);
        assertThat(anonymous.status()).isEqualTo(401);
        assertThat(anonymous.headers()).containsEntry("www-authenticate", "Bearer realm=\"sluice\"");
        assertThat(post("/api/echo", "{}", "Authorization: Bearer nope", JSON).status()).isEqualTo(401);

        assertThat(post("/api/echo", "{}", TOKEN).status()).as("no content type").isEqualTo(415);
        assertThat(post("/api/echo", "{}", TOKEN, "Content-Type: text/plain").status()).isEqualTo(415);
        Answer tooLarge = post("/api/echo", "{\"pad\":\"" + "x".repeat(100) + "\"}", TOKEN, JSON);
        assertThat(tooLarge.status()).isEqualTo(413);
        assertThat(tooLarge.body()).contains("at most 64 bytes");
        assertThat(post("/api/echo", "{\"n\":", TOKEN, JSON)).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).contains("the body is not JSON");
        });
        assertThat(post("/api/echo", "[1,2]", TOKEN, JSON)).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).contains("must be a JSON object");
        });
    }

    @Test
    void withoutTokensOperationsAreOffAndSaySo() {
        http = new AdminHttp("off", "127.0.0.1", 0)
                .access(BearerTokens.single("tester", null, "operations are off: set test.token"))
                .operation("/api/echo", (who, body) -> new Operation.Result(200, body)).start();

        Answer r = post("/api/echo", "{}", TOKEN, JSON);

        assertThat(r.status()).isEqualTo(403);
        assertThat(r.body()).contains("operations are off: set test.token");
    }

    @Test
    void anotherHostNameIs421ButMetricsAndHealthAnswerAnyName() {
        started(Set.of("coordinator", "127.0.0.1"));
        http.read("/metrics", ex -> Responses.send(ex, 200, Responses.PROMETHEUS_TEXT, new byte[]{'x'}));

        assertThat(request("GET", "/api/query", "", "Host: coordinator:9000").status()).isEqualTo(200);
        assertThat(request("GET", "/api/query", "", "Host: COORDINATOR").status()).isEqualTo(200);
        Answer rebound = request("GET", "/api/query", "", "Host: attacker.example:9000");
        assertThat(rebound.status()).isEqualTo(421);
        assertThat(rebound.body()).contains("attacker.example", "add it to test.hostnames");
        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Host: attacker.example").status()).isEqualTo(421);
        assertThat(request("GET", "/metrics", "", "Host: attacker.example").status()).isEqualTo(200);
        assertThat(request("GET", "/health/live", "", "Host: attacker.example").status()).isEqualTo(200);
    }

    @Test
    void anOperationFromAnotherSiteIsRefused() {
        started(Set.of("coordinator", "127.0.0.1"));

        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Origin: http://coordinator:9000").status()).isEqualTo(200);
        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Origin: https://evil.example").status()).isEqualTo(403);
        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Origin: null").status()).isEqualTo(403);
        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Sec-Fetch-Site: cross-site").status()).isEqualTo(403);
        assertThat(post("/api/echo", "{}", TOKEN, JSON, "Sec-Fetch-Site: same-origin").status()).isEqualTo(200);
    }

    @Test
    void anEventStreamSendsFramesUntilTheClientLeavesAndHeadGetsHeadersOnly() throws Exception {
        CountDownLatch gone = new CountDownLatch(1);
        List<Integer> sent = new ArrayList<>();
        http = new AdminHttp("stream", "127.0.0.1", 0).read("/events", ex -> {
            EventStream events = EventStream.open(ex, "test stream");
            if (events == null) {
                return;
            }
            try (events) {
                for (int i = 1; ; i++) {
                    events.send(EventStream.frame(i, "tick", "{\"n\":" + i + "}\nsecond line"));
                    sent.add(i);
                    events.keepAlive();
                    Thread.sleep(20);
                }
            } catch (IOException e) {
                gone.countDown();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }).start();

        Answer head = request("HEAD", "/events", "");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.headers()).containsEntry("content-type", "text/event-stream; charset=utf-8");

        try (Socket socket = new Socket("127.0.0.1", http.port())) {
            socket.getOutputStream().write(("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .getBytes(StandardCharsets.UTF_8));
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            while (lines.stream().noneMatch(l -> l.contains("id: 2"))) {
                lines.add(in.readLine());
            }
            assertThat(lines).containsSubsequence("retry: 2000", ": test stream", "", "id: 1", "event: tick",
                    "data: {\"n\":1}", "data: second line", "", ": keep-alive", "", "id: 2");
        }
        assertThat(gone.await(10, TimeUnit.SECONDS)).as("the stream noticed the client left").isTrue();
    }

    @Test
    void aPortInUseIsReportedWithTheAddressAndTheSettings() {
        started(Set.of());

        AdminHttp second = new AdminHttp("the test endpoint (test.bind and test.port)", "127.0.0.1", http.port());

        assertThatThrownBy(second::start).isInstanceOf(UncheckedIOException.class)
                .hasMessageStartingWith("cannot listen on 127.0.0.1:" + http.port()
                        + " for the test endpoint (test.bind and test.port)");
    }
}
