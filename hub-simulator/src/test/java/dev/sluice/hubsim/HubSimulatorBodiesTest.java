package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Bodies of a given size, chunked bodies and trickled bodies, and how a request's time in flight covers them. */
class HubSimulatorBodiesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final HubClient admin = new HubClient();
    private HubSimulator hub;

    @AfterEach
    void tearDown() {
        if (hub != null) {
            hub.close();
        }
        http.close();
        admin.close();
    }

    private HttpResponse<byte[]> get(String key) throws Exception {
        return http.send(HttpRequest.newBuilder(hub.uriFor(key)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void answersTheDocumentPaddedToExactlyTheSizeWithItsContentLength() throws Exception {
        hub = HubSimulator.builder().bodyBytes(3_000_000).build().start();

        HttpResponse<byte[]> r = get("user:1");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).hasSize(3_000_000);
        assertThat(r.headers().firstValueAsLong("Content-Length")).hasValue(3_000_000);
        var document = JSON.readTree(r.body());
        assertThat(document.get("key").asText()).isEqualTo("user:1");
        assertThat(document.get("version").asInt()).isEqualTo(1);
        assertThat(document.get("pad").asText()).matches("x+");
        assertThat(hub.stats().inFlight()).isZero();
        assertThat(hub.stats().count(200)).isEqualTo(1);
    }

    @Test
    void aSizeSmallerThanTheDocumentSendsTheDocumentAsItIs() throws Exception {
        hub = HubSimulator.builder().bodyBytes(10).build().start();

        assertThat(new String(get("k").body(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(HubHandler.document("k"));
    }

    @Test
    void chunkedBodiesGoOutWithoutAContentLength() throws Exception {
        hub = HubSimulator.builder().bodyBytes(200_000).chunkedBodies(true).build().start();

        HttpResponse<byte[]> r = get("k");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Length")).isEmpty();
        assertThat(r.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
        assertThat(r.body()).hasSize(200_000);
        assertThat(JSON.readTree(r.body()).get("key").asText()).isEqualTo("k");
    }

    @Test
    void aTrickledBodyKeepsItsRequestInFlightUntilItsLastPiece() throws Exception {
        hub = HubSimulator.builder().bodyBytes(1_000).bodyTrickleMs(1_000).build().start();

        long start = System.nanoTime();
        var answer = http.sendAsync(HttpRequest.newBuilder(hub.uriFor("slow")).build(), HttpResponse.BodyHandlers.ofByteArray());
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10)).until(() -> hub.stats().inFlight() == 1);
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(1)).until(() -> true);
        assertThat(hub.stats().inFlight()).as("still trickling").isEqualTo(1);

        HttpResponse<byte[]> r = answer.get();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
        assertThat(r.body()).hasSize(1_000);
        assertThat(hub.stats().inFlight()).isZero();
        assertThat(hub.stats().distinctKeys()).isEqualTo(1);
    }

    @Test
    void aClientHangingUpMidBodyEndsItsRequestAtTheNextPiece() throws Exception {
        hub = HubSimulator.builder().bodyBytes(100_000).bodyTrickleMs(60_000).build().start();

        try (var socket = new java.net.Socket("127.0.0.1", hub.port())) {
            socket.getOutputStream().write(("GET " + hub.pathPrefix() + "gone HTTP/1.1\r\nHost: x\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            assertThat(in.read()).as("the answer began").isEqualTo('H');
            assertThat(hub.stats().inFlight()).isEqualTo(1);
        }
        long hungUp = System.nanoTime();
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10)).until(() -> hub.stats().inFlight() == 0);
        assertThat(Duration.ofNanos(System.nanoTime() - hungUp)).isLessThan(Duration.ofMillis(500));
        assertThat(hub.stats().count(200)).as("recorded with its status").isEqualTo(1);
        assertThat(hub.stats().distinctKeys()).as("but not served").isZero();
    }

    @Test
    void bodySettingsChangeThroughTheAdminEndpointAndBadValuesAreNamed() throws Exception {
        hub = HubSimulator.builder().build().start();

        var changed = admin.post(hub.baseUrl() + "/admin/settings?bodyBytes=5000&chunked=true&bodyTrickleMs=40");
        assertThat(changed.statusCode()).isEqualTo(200);
        var settings = admin.json(changed);
        assertThat(settings.get("bodyBytes").asLong()).isEqualTo(5000);
        assertThat(settings.get("chunked").asBoolean()).isTrue();
        assertThat(settings.get("bodyTrickleMs").asLong()).isEqualTo(40);
        assertThat(get("k").body()).hasSize(5000);

        var rejected = admin.post(hub.baseUrl() + "/admin/settings?bodyBytes=-1");
        assertThat(rejected.statusCode()).isEqualTo(400);
        assertThat(admin.json(rejected).get("error").asText()).isEqualTo("bodyBytes must be between 0 and 1073741824, but was -1");
        var notABoolean = admin.post(hub.baseUrl() + "/admin/settings?chunked=yes");
        assertThat(admin.json(notABoolean).get("error").asText()).isEqualTo("chunked must be true or false, but was 'yes'");

        hub.setBody(0, false, 0);
        assertThat(new String(get("k").body(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(HubHandler.document("k"));
        assertThatThrownBy(() -> HubSimulator.builder().bodyTrickleMs(600_001))
                .hasMessage("bodyTrickleMs must be between 0 and 600000, but was 600001");
    }

    @Test
    void bodyFlagsConfigureTheSimulatorAndBadValuesNameTheirFlag() throws Exception {
        var commandLine = Main.commandLine();
        commandLine.parseArgs("--port", "0", "--body-bytes", "4096", "--chunked", "--body-trickle-ms", "30");
        Main main = commandLine.getCommand();
        try (var started = main.simulator().start()) {
            var settings = admin.json(admin.get(started.baseUrl() + "/admin/settings"));
            assertThat(settings.get("bodyBytes").asLong()).isEqualTo(4096);
            assertThat(settings.get("chunked").asBoolean()).isTrue();
            assertThat(settings.get("bodyTrickleMs").asLong()).isEqualTo(30);
        }

        var err = new java.io.StringWriter();
        var bad = Main.commandLine();
        bad.setErr(new java.io.PrintWriter(err, true));
        assertThat(bad.execute("--body-bytes", "-5")).isEqualTo(2);
        assertThat(err.toString()).contains("--body-bytes must be between 0 and 1073741824, but was -5");
    }

    @Test
    void manyLargeBodiesAtOnceAreAllServedInFull() throws Exception {
        hub = HubSimulator.builder().bodyBytes(8 * 1024 * 1024).build().start();

        try (var executor = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            var sizes = new java.util.ArrayList<java.util.concurrent.Future<Long>>();
            for (int i = 0; i < 40; i++) {
                URI uri = hub.uriFor("k" + i);
                sizes.add(executor.submit(() -> http.send(HttpRequest.newBuilder(uri).build(),
                        HttpResponse.BodyHandlers.ofInputStream()).body().transferTo(java.io.OutputStream.nullOutputStream())));
            }
            for (var size : sizes) {
                assertThat(size.get()).isEqualTo(8L * 1024 * 1024);
            }
        }
        assertThat(hub.stats().count(200)).isEqualTo(40);
    }
}
