package dev.sluice.worker.events;

import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A worker process whose Kafka broker stops for several seconds says so once when the outage starts and once when
 * it ends, with the node's own logging configuration (the one the jar ships), not two lines every two seconds. A real
 * node process and a real KRaft broker that is stopped and started again on the same port.
 */
class KafkaOutageLoggingTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static final KafkaExtension kafka = KafkaExtension.builder().build();

    private static final Pattern OUTAGE = Pattern.compile("WARN .*Kafka \\(\\S+\\) unreachable since ");
    private static final Pattern RECOVERY = Pattern.compile(
            "INFO .*Kafka \\(\\S+\\) reachable again after ([0-9.]+) s .*: (\\d+) event\\(s\\) dropped meanwhile, (\\d+) delayed");
    private static final Pattern CLIENT_WARNING = Pattern.compile("WARN .*o\\.a\\.k\\.clients\\.NetworkClient");
    private static final Duration DOWN = Duration.ofSeconds(12);

    @Test
    void aBrokerDownForSecondsIsLoggedOnceWhenItGoesAndOnceWhenItComesBack() throws Exception {
        try (NodeProcess worker = NodeProcess.forMainClass(Main.class).args("worker")
                // The node's own logback.xml, not the tests' logback-test.xml that comes first on the classpath.
                .jvmArgs("-Dlogback.configurationFile=" + shippedLogbackConfig())
                .env("SLUICE_REDIS_URL", redis.url())
                .env("SLUICE_NODE_ID", "outage-node")
                .env("SLUICE_NODE_HEARTBEAT_INTERVAL_SECS", "1")
                .env("SLUICE_NODE_DRAIN_TIMEOUT_SECS", "1")
                .env("SLUICE_KAFKA_ENABLED", "true")
                .env("SLUICE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers())
                .env("SLUICE_CLUSTER_PORT", Integer.toString(freePort()))
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", "127.0.0.1")
                .maxHeap("256m").start()) {
            worker.awaitLog(Pattern.compile("node outage-node started"), Duration.ofSeconds(60));
            // Heartbeats every second reach the broker: no outage so far.
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(200))
                    .until(() -> count(worker, OUTAGE) == 0);

            kafka.broker().stop();
            long stoppedAt = System.nanoTime();
            worker.awaitLog(OUTAGE, Duration.ofSeconds(20));
            // However long the broker stays away, the outage is not logged again (the client's reconnect attempts,
            // two WARN lines every two seconds before, are not logged at all).
            Duration rest = DOWN.minus(Duration.ofNanos(System.nanoTime() - stoppedAt));
            if (!rest.isNegative()) {
                await().during(rest).atMost(rest.plusSeconds(5)).pollInterval(Duration.ofMillis(200))
                        .until(() -> count(worker, OUTAGE) == 1 && count(worker, RECOVERY) == 0);
            }
            kafka.broker().start();

            String recovery = worker.awaitLog(RECOVERY, Duration.ofSeconds(60));
            Matcher m = RECOVERY.matcher(recovery);
            assertThat(m.find()).isTrue();
            assertThat(Double.parseDouble(m.group(1))).as(recovery).isGreaterThanOrEqualTo(DOWN.toSeconds() - 5.0);
            assertThat(Long.parseLong(m.group(2))).as("dropped: the buffer of 10,000 never filled").isZero();
            assertThat(Long.parseLong(m.group(3))).as("delayed: the heartbeats of the outage").isPositive();
            // Heartbeats flow again and nothing more is said.
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(200))
                    .until(() -> count(worker, OUTAGE) == 1 && count(worker, RECOVERY) == 1);

            String log = worker.log();
            assertThat(count(worker, OUTAGE)).as(log).isEqualTo(1);
            assertThat(count(worker, RECOVERY)).as(log).isEqualTo(1);
            assertThat(count(worker, CLIENT_WARNING)).as(log).isZero();
        }
    }

    private static long count(NodeProcess worker, Pattern pattern) {
        return worker.log().lines().filter(line -> pattern.matcher(line).find()).count();
    }

    private static Path shippedLogbackConfig() throws URISyntaxException {
        // The test classes carry only logback-test.xml, so this is worker-node's src/main/resources/logback.xml.
        return Path.of(Objects.requireNonNull(Main.class.getResource("/logback.xml"), "logback.xml").toURI());
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
