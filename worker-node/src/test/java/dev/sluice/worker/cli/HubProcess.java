package dev.sluice.worker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.sluice.hubsim.HubStats;
import dev.sluice.hubsim.Main;
import dev.sluice.testkit.JsonHttp;
import dev.sluice.testkit.NodeProcess;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hub simulator in a process of its own, as the fault tests' nodes are, judged through its admin endpoint.
 *
 * <p>A pause of the simulator makes it record arrivals late and bunched: CI saw a sliding second of 101 requests at a
 * 100/s Hub after a 50 ms stall of the simulator's own, while the fleet ran at 97 to 99 in every other second. In the
 * test JVM it paused with that JVM; in a process of its own it still paused, for its young collections (10 to 57 ms
 * on this busy two-core machine, seen with the GC log below). A real Hub is another machine, so here it runs with
 * no collector at all (Epsilon: it allocates under 2 MB/s, and a fault case lasts minutes, well within its 1 GiB
 * heap; running out ends it with an OutOfMemoryError, which fails the test loudly) and, when the tests run as root
 * (they need it for namespaces), at a higher scheduling priority than the nodes.
 */
final class HubProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("Hub simulator listening on (http://\\S+) ");

    private final NodeProcess process;
    private final URI base;

    private HubProcess(NodeProcess process, URI base) {
        this.process = process;
        this.base = base;
    }

    /** Starts a simulator bound to {@code host} on a free port with these limits and latency, and waits until ready. */
    static HubProcess start(String host, int rps, int inFlight, int latencyMs, int jitterMs) {
        List<String> wrapper = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            wrapper.addAll(List.of("nice", "-n", "-10"));
        }
        Path log;
        try {
            Files.createDirectories(Path.of("target", "fleet-logs"));
            log = Files.createTempFile(Path.of("target", "fleet-logs"), "hub-", ".log");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        NodeProcess process = NodeProcess.forMainClass(Main.class).wrapper(wrapper.toArray(String[]::new))
                .jvmArgs("-XX:+UnlockExperimentalVMOptions", "-XX:+UseEpsilonGC",
                        // Its pauses, to tell a stall of its own from the fleet's doing when a second is over the limit.
                        "-Xlog:gc,safepoint:file=" + log.toString().replace(".log", ".gc.log") + ":time,uptime")
                .args("--host", host, "--port", "0", "--latency-ms", Integer.toString(latencyMs),
                        "--jitter-ms", Integer.toString(jitterMs), "--max-rps", Integer.toString(rps),
                        "--max-in-flight", Integer.toString(inFlight))
                .maxHeap("1g").name("hub").logFile(log).start();
        try {
            Matcher m = LISTENING.matcher(process.awaitLog(LISTENING, Duration.ofSeconds(60)));
            if (!m.find()) {
                throw new IllegalStateException("the Hub simulator did not say where it listens: " + process.log());
            }
            String url = m.group(1).replace("0.0.0.0", "127.0.0.1");
            return new HubProcess(process, URI.create(url + "/"));
        } catch (RuntimeException e) {
            process.close();
            throw e;
        }
    }

    int port() {
        return base.getPort();
    }

    /** {@code http://127.0.0.1:port}, without a trailing slash. */
    String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    /** {@code GET /admin/stats}; fails with the simulator's log tail when it cannot answer. */
    HubStats stats() {
        HttpResponse<String> response = JsonHttp.get(base, "admin/stats");
        if (response.statusCode() != 200) {
            throw new AssertionError("the Hub simulator answered " + response.statusCode() + " to its stats: "
                    + response.body() + "; its log:\n" + process.log());
        }
        try {
            return JsonHttp.JSON.readValue(response.body(), HubStats.class);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("the Hub simulator's stats are not a HubStats document", e);
        }
    }

    /** The simulator's log so far: an over-limit arrival is logged with its own longest recent stall. */
    String log() {
        return process.log();
    }

    @Override
    public void close() {
        process.close();
    }
}
