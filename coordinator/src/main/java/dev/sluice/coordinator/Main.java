package dev.sluice.coordinator;

import dev.sluice.common.config.ConfigException;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.config.SluiceConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar sluice-coordinator.jar --config FILE}: runs the coordinator until SIGTERM or SIGINT. A bad
 * configuration ends it at once with exit code 78 and a message naming the key, the value and the rule.
 */
@Command(name = "sluice-coordinator", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Consumes Sluice node events from Kafka, keeps the cluster state and raises alerts to an HTTP "
                + "feed (/api/alerts, /api/alerts/stream, /api/cluster, /metrics, /health/live, /health/ready on "
                + "[metrics] port), a compacted alerts topic and an Alertmanager-compatible webhook.",
                "Environment variables SLUICE_<SECTION>_<KEY> override the file."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:stopped", "1:could not start (port in use, ...)", "2:bad command line",
                "70:fatal error in one of its loops (out of memory ...)",
                "78:bad configuration"})
public final class Main implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    @Option(names = "--config", paramLabel = "FILE",
            description = "TOML configuration file; without it, defaults and the environment only.")
    Path config;

    private final PrintWriter err;

    Main(PrintWriter err) {
        this.err = err;
    }

    @Override
    public Integer call() throws InterruptedException {
        SluiceConfig loaded;
        try {
            loaded = ConfigLoader.load(config);
        } catch (ConfigException e) {
            err.println("sluice-coordinator: " + e.getMessage());
            err.flush();
            return ConfigException.EXIT_CODE;
        }
        Coordinator coordinator;
        try {
            coordinator = Coordinator.start(loaded);
        } catch (RuntimeException e) {
            err.println("sluice-coordinator: could not start: " + e.getMessage());
            err.flush();
            return 1;
        }
        log.info("coordinator started on {} (kafka {}, events {}, alerts {})", coordinator.uri(),
                loaded.kafka().bootstrapServers(), loaded.kafka().eventsTopic(), loaded.kafka().alertsTopic());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping");
            coordinator.close();
            stopped.countDown();
        }, "sluice-coordinator-shutdown"));
        stopped.await();
        return 0;
    }

    /** Runs the command line and returns its exit code (for tests; {@link #main} exits with it). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main(err));
        cli.setOut(out);
        cli.setErr(err);
        return cli.execute(args);
    }

    public static void main(String[] args) {
        int code = run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
        System.exit(code);
    }

    /** The version from the jar's manifest, when there is one. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sluice-coordinator " + (v == null ? "(development build)" : v)};
        }
    }
}
