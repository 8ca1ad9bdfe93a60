package dev.sluice.worker.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.testkit.BlackHole;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The JDK HTTP client's real exceptions, against a "black hole" server that accepts connections and never answers
 * and a port nobody listens on.
 */
class HubErrorsTest {

    @Test
    void hubRequestTimeoutIsHubTimeout() throws IOException {
        try (BlackHole blackHole = new BlackHole(); HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + blackHole.port() + "/v1/x"))
                    .timeout(Duration.ofMillis(150)).build();
            Throwable failure = catchThrowable(() -> client.send(request, HttpResponse.BodyHandlers.ofString()));
            assertThat(HubErrors.classify(failure)).isEqualTo(ErrorKind.HUB_TIMEOUT);
        }
    }

    @Test
    void hubConnectTimeoutIsHubTimeout() {
        assertThat(HubErrors.classify(new HttpConnectTimeoutException("HTTP connect timed out")))
                .isEqualTo(ErrorKind.HUB_TIMEOUT);
    }

    @Test
    void refusedHubConnectionIsHubUnavailable() throws IOException {
        int port = BlackHole.closedPort();
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/x")).build();
            Throwable failure = catchThrowable(() -> client.send(request, HttpResponse.BodyHandlers.ofString()));
            assertThat(HubErrors.classify(failure)).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        }
    }

    @Test
    void asyncHubFailureIsLookedThrough() throws IOException {
        int port = BlackHole.closedPort();
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/x")).build();
            Throwable failure = catchThrowable(() -> client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join());
            assertThat(failure).isInstanceOf(CompletionException.class);
            assertThat(HubErrors.classify(failure)).isEqualTo(ErrorKind.HUB_UNAVAILABLE);
        }
    }

    @Test
    void anAnswerThatIsNotJsonIsNotTheHubBeingDown() {
        Throwable failure = catchThrowable(() -> new ObjectMapper().readTree("{\"key\": "));
        assertThat(failure).isInstanceOf(IOException.class);
        assertThat(HubErrors.classify(failure)).isEqualTo(ErrorKind.BAD_JOB);
    }
}
