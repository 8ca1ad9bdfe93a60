package dev.sluice.coordinator;

import dev.sluice.common.config.ConfigException;
import dev.sluice.testkit.KafkaBroker;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class MainTest {

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    @TempDir
    Path dir;

    private Path file(String toml) throws IOException {
        return Files.writeString(dir.resolve("coordinator.toml"), toml);
    }

    @Test
    void aBadValueExits78NamingTheKeyTheValueAndTheRuleInAProcess() throws IOException {
        Path config = file("[alerts]\npool_usage_threshold = 1.5\n");
        try (NodeProcess process = NodeProcess.forMainClass(Main.class).args("--config", config.toString()).start()) {
            assertThat(process.waitFor(Duration.ofSeconds(60))).isEqualTo(ConfigException.EXIT_CODE);
            assertThat(process.log()).contains("alerts.pool_usage_threshold", "1.5", "less than 1.0");
        }
    }

    @Test
    void anUnknownKeyExits78WithTheNearestKnownOne() throws IOException {
        Path config = file("[coordinator]\nwebhook_ulr = \"http://am:9093/api/v2/alerts\"\n");
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--config", config.toString());

        assertThat(code).isEqualTo(78);
        assertThat(err.toString()).contains("coordinator.webhook_ulr", "did you mean coordinator.webhook_url?");
    }

    @Test
    void helpDescribesTheOptions() {
        StringWriter out = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), "--help");

        assertThat(code).isZero();
        assertThat(out.toString()).contains("--config", "FILE", "78");
    }

    @Test
    void sigtermStopsTheCoordinatorCleanly(KafkaBroker broker) throws IOException {
        Path config = file(TestCoordinators.config(broker, "main.events", "main.alerts", "", ""));
        try (NodeProcess process = NodeProcess.forMainClass(Main.class).args("--config", config.toString()).start()) {
            process.awaitLog(Pattern.compile("coordinator ready"), Duration.ofSeconds(60));
            process.terminate();
            assertThat(process.waitFor(Duration.ofSeconds(30))).isEqualTo(143);
            assertThat(process.log()).contains("coordinator stopped");
        }
    }
}
