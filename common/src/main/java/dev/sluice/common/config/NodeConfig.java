package dev.sluice.common.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * {@code [node]}: who this node is and how much it runs at once.
 *
 * @param id                unique among live nodes; the Redis consumer name and the processing list's suffix
 * @param concurrency       job slots (virtual threads)
 * @param drainTimeoutSecs  how long SIGTERM waits for running jobs before handing them back
 * @param heartbeatIntervalSecs  how often the node publishes a heartbeat event
 * @param leaseMs           the node's liveness record in Redis is renewed every third of this; a node started with
 *                          the id of a record watched unrenewed for this long takes it over
 */
public record NodeConfig(String id, int concurrency, int drainTimeoutSecs, int heartbeatIntervalSecs, int leaseMs) {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,100}");

    static NodeConfig read(ConfigReader r) {
        String id = r.nonBlank("node.id", defaultId());
        if (!ID.matcher(id).matches()) {
            throw r.outOfRange("node.id", null, id,
                    "must be 1 to 100 characters of letters, digits, '.', '_', ':' or '-'");
        }
        return new NodeConfig(id,
                r.intIn("node.concurrency", 250, 1, 10_000),
                r.intIn("node.drain_timeout_secs", 20, 0, 3_600),
                r.intIn("node.heartbeat_interval_secs", 5, 1, 300),
                r.intIn("node.lease_ms", 6_000, 300, 600_000));
    }

    /**
     * Host name, process id and a random suffix: unique per process even where process ids repeat across hosts
     * or containers that share a host name.
     */
    public static String defaultId() {
        return ProcessId.VALUE;
    }

    /** Computed once, so every load in one process agrees on the node's identity. */
    private static final class ProcessId {
        static final String VALUE = compute();
    }

    private static String compute() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = System.getenv().getOrDefault("HOSTNAME", "node");
        }
        host = host.replaceAll("[^A-Za-z0-9.-]", "-");
        if (host.length() > 60) {
            host = host.substring(0, 60);
        }
        long pid = ProcessHandle.current().pid();
        byte[] suffix = new byte[2];
        ThreadLocalRandom.current().nextBytes(suffix);
        return host + "-" + pid + "-" + HexFormat.of().formatHex(suffix);
    }

}
