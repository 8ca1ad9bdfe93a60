package dev.sluice.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** On an instance field the extension gives every test a server of its own and removes it afterwards. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisPerTestServerTest {

    private static Path firstDataDir;

    @RegisterExtension
    RedisExtension redis = RedisExtension.builder().build();

    @Test
    @Order(1)
    void firstTestGetsAServer(RedisServer server) {
        assumeTrue(server.mode() == RedisServer.Mode.LOCAL, "only a local server has a data directory");
        assertThat(server).isSameAs(redis.server());
        firstDataDir = server.dataDir().orElseThrow();
        assertThat(firstDataDir).isDirectory();
    }

    @Test
    @Order(2)
    void secondTestGetsAnotherServerAndTheFirstIsGone(RedisServer server) {
        assumeTrue(firstDataDir != null, "the first test ran with a local server");
        assertThat(server.dataDir()).isPresent().get().isNotEqualTo(firstDataDir);
        assertThat(firstDataDir).doesNotExist();
    }
}
