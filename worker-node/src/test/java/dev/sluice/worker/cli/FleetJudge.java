package dev.sluice.worker.cli;

import dev.sluice.hubsim.HubStats;
import org.awaitility.core.ConditionTimeoutException;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The fault tests' fleet of two real node processes sharing the Hub's limits (100 requests a second, 20 in flight)
 * under the grantor lease (3 s lease, 2 s request timeout, 1 s permit grace), and how they judge it: with the Hub
 * simulator's figures, Redis and each node's admin endpoint.
 */
final class FleetJudge {
    static final String STREAM = "sluice:jobs";
    static final int RPS = 100;
    static final int IN_FLIGHT = 20;
    static final long LEASE_MS = 3_000;
    private static final String GRANTOR_KEYS = "sluice:limits:grantor:*";

    private FleetJudge() {
    }

    /** The Hub simulator in a process of its own (see {@link HubProcess}), 20 ms latency with 10 ms jitter. */
    static HubProcess hub(String host) {
        return HubProcess.start(host, RPS, IN_FLIGHT, 20, 10);
    }

    static Map<String, String> env(String redisUrl, String hubUrl) {
        Map<String, String> env = new HashMap<>();
        env.put("SLUICE_REDIS_URL", redisUrl);
        env.put("SLUICE_HUB_BASE_URL", hubUrl);
        env.put("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", Integer.toString(RPS));
        env.put("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", Integer.toString(IN_FLIGHT));
        env.put("SLUICE_HUB_REQUEST_TIMEOUT_MS", "2000");
        env.put("SLUICE_HUB_PERMIT_GRACE_MS", "1000");
        env.put("SLUICE_NODE_LEASE_MS", Long.toString(LEASE_MS));
        env.put("SLUICE_NODE_CONCURRENCY", "16");
        return env;
    }

    /** Adds jobs with the keys k{@code from} to k{@code (to - 1)}. */
    static void enqueue(Jedis j, int from, int to) {
        for (int i = from; i < to; i++) {
            j.xadd(STREAM, StreamEntryID.NEW_ENTRY, Map.of("key", "k" + i));
        }
    }

    /** The node id the grantor record names now, "" when there is none. */
    static String grantorNode(Jedis j) {
        Set<String> keys = j.keys(GRANTOR_KEYS);
        assertThat(keys).as("grantor records of the fleet").hasSizeLessThanOrEqualTo(1);
        if (keys.isEmpty()) {
            return "";
        }
        String node = j.hget(keys.iterator().next(), "node");
        return node == null ? "" : node;
    }

    /** The fleet's other node than {@code id}. */
    static FleetNodes.Node otherThan(FleetNodes fleet, String id) {
        return fleet.nodes().stream().filter(n -> !n.id().equals(id)).findFirst().orElseThrow();
    }

    /** Each node's Hazelcast member port. */
    static List<Integer> memberPorts(FleetNodes fleet) {
        return fleet.nodes().stream()
                .map(n -> Integer.parseInt(n.member().substring(n.member().lastIndexOf(':') + 1))).toList();
    }

    static boolean allAlive(FleetNodes fleet) {
        return fleet.nodes().stream().allMatch(n -> n.process().isAlive());
    }

    static double seconds(long fromNanos) {
        return (System.nanoTime() - fromNanos) / 1e9;
    }

    /** Hub arrivals so far: answered plus being handled. */
    static long arrivals(HubProcess hub) {
        HubStats s = hub.stats();
        return s.totalRequests() + s.inFlight();
    }

    /** The Hub calls a node counted so far ({@code sluice_hub_requests_total}). */
    static long hubCalls(FleetNodes.Node node) {
        return (long) node.metric("sluice_hub_requests_total");
    }

    /**
     * Waits, with the Hub's own clock, for two seconds at 90% of the limit or more, all after {@code countFrom} first
     * held (polled as well), and returns when that window ended in seconds after {@code since}; fails after
     * {@code within} of {@code since}.
     */
    static double awaitRecovery(HubProcess hub, long since, Duration within, BooleanSupplier countFrom) {
        Deque<double[]> samples = new ArrayDeque<>();
        boolean[] counting = {false};
        double[] at = {-1};
        long left = within.toNanos() - (System.nanoTime() - since);
        await().atMost(Duration.ofNanos(Math.max(left, 1))).pollInterval(Duration.ofMillis(100)).until(() -> {
            if (!counting[0]) {
                if (!countFrom.getAsBoolean()) {
                    return false;
                }
                counting[0] = true;
            }
            HubStats s = hub.stats();
            samples.addLast(new double[]{s.periodSeconds(), s.count(200)});
            while (samples.size() > 1 && samples.getLast()[0] - samples.getFirst()[0] > 2.0) {
                samples.removeFirst();
            }
            double span = samples.getLast()[0] - samples.getFirst()[0];
            if (span >= 1.9 && (samples.getLast()[1] - samples.getFirst()[1]) / span >= 0.9 * RPS) {
                at[0] = seconds(since);
                return true;
            }
            return false;
        });
        return at[0];
    }

    /**
     * Every job (keys k0 to k{@code jobs - 1}) answered at the Hub and done in Redis, the stream drained; fails saying
     * what is missing. The caller then judges the Hub's figures.
     */
    static HubStats awaitAllDoneWithinLimits(HubProcess hub, Jedis j, int jobs, FleetNodes fleet) {
        try {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
                    .failFast("a node process exited", () -> !allAlive(fleet))
                    .until(() -> hub.stats().distinctKeys() >= jobs && j.keys("sluice:result:*").size() >= jobs);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> j.xlen(STREAM) == 0 && j.xpending(STREAM, "sluice").getTotal() == 0);
        } catch (ConditionTimeoutException e) {
            Set<String> done = j.keys("sluice:result:*").stream().map(k -> k.substring(k.lastIndexOf(':') + 1))
                    .collect(Collectors.toSet());
            List<String> missing = IntStream.range(0, jobs).mapToObj(i -> "k" + i).filter(k -> !done.contains(k))
                    .limit(20).toList();
            throw new AssertionError(String.format("not every job done: %d of %d keys answered at the Hub, %d results "
                            + "(none for %s), %d entries in the stream, %d pending", hub.stats().distinctKeys(), jobs,
                    done.size(), missing, j.xlen(STREAM), j.xpending(STREAM, "sluice").getTotal()), e);
        }
        return hub.stats();
    }

    static void assertWithinLimits(HubStats all, int jobs) {
        assertThat(all.violations().total()).as("violations at the Hub (%s)", all.violations()).isZero();
        assertThat(all.maxWindowRequests()).as("most requests in a sliding second").isLessThanOrEqualTo(RPS);
        assertThat(all.maxInFlight()).as("most requests in flight").isLessThanOrEqualTo(IN_FLIGHT);
        assertThat(all.count(429)).isZero();
        assertThat(all.distinctKeys()).as("every job answered").isEqualTo(jobs);
    }

    /**
     * Polls {@code counter} for a lease after {@code since} (each poll also checking {@code alive}) and returns
     * when, in seconds after {@code since}, it was last seen to change from {@code start}; 0 when it never did.
     */
    static double lastChange(long since, double start, LongSupplier counter, BooleanSupplier alive) {
        long[] last = {(long) start};
        double[] changedAt = {0};
        long left = LEASE_MS - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
        await().during(Duration.ofMillis(Math.max(left, 0))).atMost(Duration.ofMillis(Math.max(left, 0) + 2_000))
                .pollInterval(Duration.ofMillis(50)).until(() -> {
                    long now = counter.getAsLong();
                    if (now != last[0]) {
                        last[0] = now;
                        changedAt[0] = seconds(since);
                    }
                    return alive.getAsBoolean();
                });
        return changedAt[0];
    }

    /**
     * Waits until {@code until} seconds after {@code since} (the fault's length: part of the scenario), failing as
     * soon as {@code holds} does not.
     */
    static void holdUntil(long since, double until, BooleanSupplier holds) {
        long left = (long) (until * 1000) - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
        await().during(Duration.ofMillis(Math.max(left, 0))).atMost(Duration.ofMillis(Math.max(left, 0) + 5_000))
                .pollInterval(Duration.ofMillis(100)).until(holds::getAsBoolean);
    }

    /** Runs a command; fails with its output when it does not exit 0 within 30 s. */
    static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed (network namespaces, iptables and "
                    + "signals to other users' processes need root): " + out);
        }
    }

    static long fencedSends(FleetNodes.Node node) {
        return node.status().path("cluster").path("limits").path("fencedSends").asLong(-1);
    }
}
