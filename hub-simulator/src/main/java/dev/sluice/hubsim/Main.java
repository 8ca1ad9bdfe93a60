package dev.sluice.hubsim;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Runs a {@link HubSimulator} from the command line until the process is stopped (SIGTERM or Ctrl-C), then stops
 * it cleanly. A bad flag value exits with status 2 and a message naming the flag, the rule and the value.
 */
@Command(
        name = "sluice-hub-simulator",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "A stand-in Hub for Sluice demos, tests and benchmarks.",
            "Serves GET <path-prefix><key> with a deterministic JSON document, with configurable latency, errors "
                    + "and outages; enforces its own limits (429 with Retry-After past them) and reports what it "
                    + "observed."},
        footer = {
            "",
            "Admin endpoints (not counted as Hub requests):",
            "  GET  /admin/stats      what the Hub observed: totals by status, max in flight,",
            "                         max requests in any sliding 1 s window, violations",
            "  POST /admin/reset      start a new observation period",
            "  GET  /admin/settings   current settings",
            "  POST /admin/settings?latencyMs=&jitterMs=&errorRate=&failFirst=",
            "                         &bodyBytes=&chunked=&bodyTrickleMs=",
            "  POST /admin/outage?on=true|false&status=503"})
public final class Main implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(Main.class);

    @Spec
    private CommandSpec spec;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "<port>",
            description = "TCP port to listen on, 0 to 65535; 0 picks a free port. Default: ${DEFAULT-VALUE}.")
    private int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "<host>",
            description = "Address to bind; 0.0.0.0 for all interfaces. Default: ${DEFAULT-VALUE}.")
    private String host;

    @Option(names = "--path-prefix", defaultValue = HubSimulator.DEFAULT_PATH_PREFIX, paramLabel = "<path>",
            description = "Path prefix of Hub requests (GET <path><key>); starts with '/', not under /admin/. "
                    + "Default: ${DEFAULT-VALUE}.")
    private String pathPrefix;

    @Option(names = "--latency-ms", defaultValue = "0", paramLabel = "<ms>",
            description = "Fixed delay before each answer, 0 to 600000 ms. Default: ${DEFAULT-VALUE}.")
    private long latencyMs;

    @Option(names = "--jitter-ms", defaultValue = "0", paramLabel = "<ms>",
            description = "Uniform random extra delay bound, 0 to 600000 ms. Default: ${DEFAULT-VALUE}.")
    private long jitterMs;

    @Option(names = "--error-rate", defaultValue = "0.0", paramLabel = "<rate>",
            description = "Share of requests answered 500, 0.0 to 1.0. Default: ${DEFAULT-VALUE}.")
    private double errorRate;

    @Option(names = "--fail-first", defaultValue = "0", paramLabel = "<n>",
            description = "Answer 500 to the first <n> requests for each distinct key, then succeed (to test "
                    + "retries); 0 to 1000000. Default: ${DEFAULT-VALUE}.")
    private int failFirst;

    @Option(names = "--body-bytes", defaultValue = "0", paramLabel = "<n>",
            description = "Size of 200 answers' bodies: the key's document padded to exactly <n> bytes, 0 to "
                    + "1073741824; 0 is the plain document. Default: ${DEFAULT-VALUE}.")
    private long bodyBytes;

    @Option(names = "--chunked", defaultValue = "false",
            description = "Send 200 answers chunked, without a Content-Length. Default: ${DEFAULT-VALUE}.")
    private boolean chunked;

    @Option(names = "--body-trickle-ms", defaultValue = "0", paramLabel = "<ms>",
            description = "Spread each 200 answer's body over <ms> after its headers, 0 to 600000; 0 sends it at "
                    + "once. Default: ${DEFAULT-VALUE}.")
    private long bodyTrickleMs;

    @Option(names = "--max-rps", defaultValue = "0", paramLabel = "<n>",
            description = "Most requests in any sliding 1 s window, at least 0; 0 means unlimited. "
                    + "Default: ${DEFAULT-VALUE}.")
    private int maxRps;

    @Option(names = "--max-in-flight", defaultValue = "0", paramLabel = "<n>",
            description = "Most requests handled at one time, at least 0; 0 means unlimited. "
                    + "Default: ${DEFAULT-VALUE}.")
    private int maxInFlight;

    @Option(names = "--enforce-limits", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Answer 429 with Retry-After to requests over a limit (--no-enforce-limits: only count "
                    + "them as violations). Default: ${DEFAULT-VALUE}.")
    private boolean enforceLimits;

    @Option(names = "--retry-after-secs", defaultValue = "1", paramLabel = "<s>",
            description = "Retry-After value sent with a 429, at least 0 seconds. Default: ${DEFAULT-VALUE}.")
    private int retryAfterSecs;

    public static void main(String... args) {
        var exitCode = commandLine().execute(args);
        // Exiting with 0 is left to the JVM: System.exit while shutdown hooks run (after SIGTERM) would block.
        if (exitCode != 0) {
            System.exit(exitCode);
        }
    }

    /** The command line of a fresh {@code Main}, ready to execute or parse. */
    static CommandLine commandLine() {
        return new CommandLine(new Main());
    }

    @Override
    public Integer call() throws InterruptedException {
        var hub = simulator();
        try {
            hub.start();
        } catch (UncheckedIOException e) {
            spec.commandLine().getErr().println(spec.name() + ": " + e.getMessage());
            return 1;
        }
        var stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("hub-simulator-shutdown").unstarted(() -> {
            log.info("Stopping the Hub simulator");
            hub.stop(Duration.ofSeconds(1));
            stopped.countDown();
        }));
        log.info("Hub simulator ready: GET {}{}<key>", hub.baseUrl(), hub.pathPrefix());
        stopped.await();
        return 0;
    }

    /**
     * The simulator the parsed flags describe, not started.
     *
     * @throws ParameterException naming the flag, the rule and the value when a value is out of range
     */
    HubSimulator simulator() {
        var builder = HubSimulator.builder();
        apply("--port", port, builder::port);
        apply("--host", host, builder::host);
        apply("--path-prefix", pathPrefix, builder::pathPrefix);
        apply("--latency-ms", latencyMs, builder::latencyMs);
        apply("--jitter-ms", jitterMs, builder::jitterMs);
        apply("--error-rate", errorRate, builder::errorRate);
        apply("--fail-first", failFirst, builder::failFirst);
        apply("--body-bytes", bodyBytes, builder::bodyBytes);
        apply("--body-trickle-ms", bodyTrickleMs, builder::bodyTrickleMs);
        builder.chunkedBodies(chunked);
        apply("--max-rps", maxRps, builder::maxRequestsPerSecond);
        apply("--max-in-flight", maxInFlight, builder::maxInFlight);
        apply("--retry-after-secs", retryAfterSecs, builder::retryAfterSecs);
        builder.enforceLimits(enforceLimits);
        return builder.build();
    }

    private <T> void apply(String flag, T value, Consumer<T> setting) {
        try {
            setting.accept(value);
        } catch (InvalidSettingException e) {
            throw new ParameterException(spec.commandLine(),
                    flag + " " + e.rule() + ", but was " + e.value());
        }
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            var version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sluice-hub-simulator " + (version == null ? "(development build)" : version)};
        }
    }
}
