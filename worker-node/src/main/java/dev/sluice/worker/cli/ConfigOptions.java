package dev.sluice.worker.cli;

import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;

/** Options every command takes: where the configuration is, and how much to say when something fails. */
public final class ConfigOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "TOML configuration file. Without it: the defaults. Either way, environment variables "
                    + "SLUICE_<SECTION>_<KEY> (e.g. SLUICE_REDIS_URL) override.")
    Path config;

    @Option(names = {"-v", "--verbose"}, description = "Print the stack trace of a failure.")
    boolean verbose;

    /** Loads and validates the configuration; a problem is a {@link dev.sluice.common.config.ConfigException}. */
    SluiceConfig load(Map<String, String> env) {
        return ConfigLoader.load(config, env);
    }

    /** The file, or "defaults". */
    String source() {
        return config == null ? "defaults" : config.toString();
    }
}
