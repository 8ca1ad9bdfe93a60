package dev.sluice.worker;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.testkit.RedisServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Redis with an ACL user and password, and Redis over TLS ({@code rediss://}) with a CA file. */
class RedisSecurityTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    @TempDir
    Path dir;

    private static void runTenJobs(SluiceConfig config, RedisServer server) {
        assertThat(server.isRunning()).isTrue();
        try (WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry())) {
            node.queue().enqueue(IntStream.range(0, 10).mapToObj(i -> Job.of("noop", "s" + i)).toList());
            node.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().backlog() == 0);
            assertThat(node.worker().jobsDone()).isEqualTo(10);
        }
    }

    @Test
    void aclUserWithPasswordIsUsedForEveryConnection() {
        int port = redis.server().port();
        try (Jedis admin = redis.server().newJedis()) {
            admin.aclSetUser("app", "on", ">s3cret", "~*", "&*", "+@all");
            try {
                SluiceConfig config = TestConfigs.config("redis://app:s3cret@127.0.0.1:" + port, "node.id", "acl-node");
                try (WorkerNode node = TestConfigs.standaloneNode(config, new SimpleMeterRegistry())) {
                    node.queue().enqueue(IntStream.range(0, 10).mapToObj(i -> Job.of("noop", "a" + i)).toList());
                    node.start();
                    await().atMost(Duration.ofSeconds(20)).until(() -> node.queue().stats().backlog() == 0);
                    assertThat(admin.clientList()).contains("name=sluice:acl-node:fetcher")
                            .containsPattern("user=app .*name=sluice:acl-node|name=sluice:acl-node.* user=app");
                }
                SluiceConfig wrong = TestConfigs.config("redis://app:wrong@127.0.0.1:" + port, "node.id", "bad-pw");
                try (WorkerNode node = TestConfigs.standaloneNode(wrong, new SimpleMeterRegistry())) {
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> node.queue().stats())
                            .hasMessageContaining("WRONGPASS").hasMessageNotContaining("wrong@");
                }
            } finally {
                admin.aclDelUser("app");
            }
        }
    }

    @Test
    void tlsWithACaFileConnectsAndVerifiesTheServer() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process openssl;
        try {
            openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                    "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("openssl is not installed, so no certificate can be made for the TLS test: " + e.getMessage());
            return;
        }
        String out = new String(openssl.getInputStream().readAllBytes());
        assertThat(openssl.waitFor()).as(out).isZero();
        int tlsPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            tlsPort = s.getLocalPort();
        }
        try (RedisServer tls = RedisServer.builder().local().args("--tls-port", Integer.toString(tlsPort),
                "--tls-cert-file", cert.toString(), "--tls-key-file", key.toString(),
                "--tls-ca-cert-file", cert.toString(), "--tls-auth-clients", "no").build().start()) {
            SluiceConfig config = TestConfigs.config("rediss://localhost:" + tlsPort, "node.id", "tls-node",
                    "redis.tls_ca_file", cert.toString());
            runTenJobs(config, tls);
            SluiceConfig untrusted = TestConfigs.config("rediss://localhost:" + tlsPort, "node.id", "tls-untrusted");
            try (WorkerNode node = TestConfigs.standaloneNode(untrusted, new SimpleMeterRegistry())) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> node.queue().stats())
                        .as("without the CA file the self-signed server is not trusted")
                        .hasStackTraceContaining("PKIX");
            }
        }
    }

}
