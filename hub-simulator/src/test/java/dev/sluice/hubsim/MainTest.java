package dev.sluice.hubsim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MainTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        var commandLine = Main.commandLine();
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        return commandLine.execute(args);
    }

    @Test
    void helpDocumentsEveryFlag() {
        var exitCode = run("--help");

        assertThat(exitCode).isZero();
        assertThat(out.toString()).contains("--port", "--host", "--path-prefix", "--latency-ms", "--jitter-ms",
                "--error-rate", "--fail-first", "--max-rps", "--max-in-flight", "--[no-]enforce-limits",
                "--retry-after-secs", "/admin/stats", "/admin/outage");
    }

    @Test
    void aValueOutOfRangeFailsNamingTheFlagTheRuleAndTheValue() {
        var exitCode = run("--error-rate", "2");

        assertThat(exitCode).isEqualTo(2);
        assertThat(err.toString()).contains("--error-rate must be between 0.0 and 1.0, but was 2.0");
    }

    @Test
    void otherBadValuesNameTheirFlagToo() {
        assertThat(run("--port", "70000")).isEqualTo(2);
        assertThat(run("--path-prefix", "/admin/")).isEqualTo(2);
        assertThat(run("--max-in-flight", "-3")).isEqualTo(2);
        assertThat(run("--latency-ms", "soon")).isEqualTo(2);

        assertThat(err.toString()).contains(
                "--port must be between 0 and 65535, but was 70000",
                "--path-prefix must not lie under /admin/, but was '/admin/'",
                "--max-in-flight must be at least 0, but was -3",
                "'--latency-ms': 'soon' is not a long");
    }

    @Test
    void flagsConfigureTheSimulator() throws Exception {
        var commandLine = Main.commandLine();
        commandLine.parseArgs("--port", "0", "--path-prefix", "/hub", "--latency-ms", "7", "--jitter-ms", "3",
                "--error-rate", "0.25", "--fail-first", "2", "--max-rps", "40", "--max-in-flight", "4",
                "--no-enforce-limits", "--retry-after-secs", "9");
        Main main = commandLine.getCommand();

        try (var hub = main.simulator().start(); var client = new HubClient()) {
            var settings = client.json(client.get(hub.baseUrl() + "/admin/settings"));

            assertThat(settings.get("pathPrefix").asText()).isEqualTo("/hub/");
            assertThat(settings.get("latencyMs").asLong()).isEqualTo(7);
            assertThat(settings.get("jitterMs").asLong()).isEqualTo(3);
            assertThat(settings.get("errorRate").asDouble()).isEqualTo(0.25);
            assertThat(settings.get("failFirst").asInt()).isEqualTo(2);
            assertThat(hub.stats().limits()).isEqualTo(new HubStats.Limits(40, 4, false, 9));
        }
    }

    @Test
    void aPortInUseFailsWithExitCode1AndSaysWhy() throws Exception {
        try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var exitCode = assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> run("--host", "127.0.0.1", "--port", Integer.toString(taken.getLocalPort())));

            assertThat(exitCode).isEqualTo(1);
            assertThat(err.toString()).contains("cannot listen on 127.0.0.1:" + taken.getLocalPort());
        }
    }

    @Test
    void limitsAreEnforcedByDefault() {
        var commandLine = Main.commandLine();
        commandLine.parseArgs("--port", "0");
        Main main = commandLine.getCommand();

        try (var hub = main.simulator()) {
            assertThat(hub.stats().limits()).isEqualTo(new HubStats.Limits(0, 0, true, 1));
        }
    }
}
