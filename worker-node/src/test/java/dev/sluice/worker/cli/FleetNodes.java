package dev.sluice.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.worker.Main;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Worker node processes that form one Hazelcast cluster over TCP (each its own member port, all listed), with
 * their admin endpoints found from their logs. For tests that judge the fleet from the outside: the Hub
 * simulator's figures, Redis, and each node's {@code /api/status}.
 */
final class FleetNodes implements AutoCloseable {
    private static final Pattern ADMIN = Pattern.compile("admin endpoint on (http://\\S+) ");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** One node: its process, its Hazelcast address, its admin endpoint. */
    record Node(String id, NodeProcess process, String member, URI admin) {

        /** {@code GET /api/status} as JSON. */
        JsonNode status() {
            try {
                return JSON.readTree(get("/api/status"));
            } catch (IOException e) {
                throw new UncheckedIOException(id + ": /api/status is not JSON", e);
            }
        }

        /** A sample's value on {@code /metrics} (the first series of that name). */
        double metric(String name) {
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? (\\S+)$").matcher(get("/metrics"));
            if (!m.find()) {
                throw new IllegalStateException(id + ": no " + name + " on /metrics");
            }
            return Double.parseDouble(m.group(2));
        }

        private String get(String path) {
            try {
                return HTTP.send(HttpRequest.newBuilder(admin.resolve(path)).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
            } catch (IOException e) {
                throw new UncheckedIOException(id + ": " + path + " failed", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        int clusterMembers() {
            return status().path("cluster").path("members").asInt(-1);
        }
    }

    /**
     * Where a node runs: its member's bind address, a wrapper to run it elsewhere (e.g. in a network namespace) and
     * environment overrides of its own (e.g. the Redis and Hub addresses as seen from there).
     */
    record Placement(String bindAddress, List<String> wrapper, Map<String, String> env) {
        static Placement loopback() {
            return new Placement("127.0.0.1", List.of(), Map.of());
        }

        static Placement at(String bindAddress) {
            return new Placement(bindAddress, List.of(), Map.of());
        }
    }

    private final Map<String, Node> nodes = new LinkedHashMap<>();

    private FleetNodes() {
    }

    /**
     * Starts one node per placement, named {@code <prefix>-<i>}, with the same environment ({@code SLUICE_*}
     * overrides) plus their cluster settings, and waits until each has started and sees all the others.
     */
    static FleetNodes start(String prefix, List<Placement> placements, Map<String, String> env, Duration timeout) {
        List<String> members = new ArrayList<>();
        for (Placement p : placements) {
            members.add(p.bindAddress() + ":" + freePort());
        }
        FleetNodes fleet = new FleetNodes();
        String clusterName = prefix + "-" + Long.toHexString(System.nanoTime());
        try {
            for (int i = 0; i < placements.size(); i++) {
                fleet.startNode(prefix + "-" + (i + 1), placements.get(i), members.get(i), members, clusterName, env);
            }
            for (Node node : fleet.nodes.values()) {
                node.process().awaitLog(Pattern.compile("node " + Pattern.quote(node.id()) + " started"), timeout);
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            for (Node node : fleet.nodes.values()) {
                while (node.clusterMembers() != placements.size()) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(node.id() + " sees " + node.clusterMembers() + " members, not "
                                + placements.size() + ", after " + timeout + "; its log:\n" + node.process().log());
                    }
                    Thread.sleep(100);
                }
            }
            return fleet;
        } catch (RuntimeException | InterruptedException e) {
            fleet.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
    }

    private void startNode(String id, Placement placement, String member, List<String> members, String clusterName,
                           Map<String, String> env) {
        NodeProcess.Builder builder = NodeProcess.forMainClass(Main.class).args("worker")
                .wrapper(placement.wrapper().toArray(String[]::new))
                .env("SLUICE_NODE_ID", id)
                .env("SLUICE_CLUSTER_DISCOVERY", "tcp")
                .env("SLUICE_CLUSTER_BIND_ADDRESS", placement.bindAddress())
                .env("SLUICE_CLUSTER_PORT", member.substring(member.lastIndexOf(':') + 1))
                .env("SLUICE_CLUSTER_MEMBERS", String.join(",", members))
                .env("SLUICE_CLUSTER_NAME", clusterName)
                .env("SLUICE_KAFKA_ENABLED", "false")
                .env("SLUICE_METRICS_PORT", "0")
                .env("SLUICE_METRICS_BIND", placement.wrapper().isEmpty() ? "127.0.0.1" : placement.bindAddress())
                .name(id)
                .logFile(logDir(clusterName).resolve(id + ".log"))
                .maxHeap("256m");
        env.forEach(builder::env);
        placement.env().forEach(builder::env);
        NodeProcess process = builder.start();
        try {
            String line = process.awaitLog(ADMIN, Duration.ofSeconds(60));
            Matcher m = ADMIN.matcher(line);
            if (!m.find()) {
                throw new IllegalStateException(id + ": no admin endpoint in " + line);
            }
            nodes.put(id, new Node(id, process, member, URI.create(m.group(1))));
        } catch (RuntimeException e) {
            process.close();
            throw e;
        }
    }

    Node node(String id) {
        Node node = nodes.get(id);
        if (node == null) {
            throw new IllegalArgumentException("no node " + id + " among " + nodes.keySet());
        }
        return node;
    }

    List<Node> nodes() {
        return List.copyOf(nodes.values());
    }

    /** Kept after the test (target/fleet-logs/CLUSTER/NODE.log), for a failure to be read. */
    private static java.nio.file.Path logDir(String clusterName) {
        java.nio.file.Path dir = java.nio.file.Path.of("target", "fleet-logs", clusterName);
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        for (Node node : nodes.values()) {
            node.process().close();
        }
    }
}
