package dev.sluice.worker.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes configuration files for tests. */
final class TestConfig {
    private TestConfig() {
    }

    static Path write(Path dir, String name, String toml) {
        try {
            return Files.writeString(dir.resolve(name), toml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file pointing at {@code redisUrl} in the given queue mode, everything else default. */
    static Path forRedis(Path dir, String redisUrl, String mode) {
        return write(dir, "sluice-" + mode + ".toml", """
                [redis]
                url = "%s"
                [queue]
                mode = "%s"
                """.formatted(redisUrl, mode));
    }
}
