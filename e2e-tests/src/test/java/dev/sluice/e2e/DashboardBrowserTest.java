package dev.sluice.e2e;

import dev.sluice.common.event.EventPayload;
import dev.sluice.control.Backfills;
import dev.sluice.coordinator.Coordinator;
import dev.sluice.hubsim.HubSimulator;
import dev.sluice.hubsim.Served;
import dev.sluice.testkit.Closer;
import dev.sluice.testkit.KafkaExtension;
import dev.sluice.testkit.NodeProcess;
import dev.sluice.testkit.RedisExtension;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.StreamEntryID;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The coordinator's dashboard in a real headless Chromium, against a real cluster: Redis, Kafka, two worker processes
 * sharing one fleet, the Hub simulator, the coordinator. The page shows the nodes; pausing from the page stops the
 * traffic at the Hub within 2 s and resuming starts it again; a pause reason that carries markup is shown as text and
 * runs nothing; a Hub outage turns the "why" line to the open breaker and brings the alert up without a reload; no job
 * is lost through all of it. Screenshots go to {@code target/screenshots/}.
 */
class DashboardBrowserTest {

    @RegisterExtension
    static RedisExtension redis = RedisExtension.builder().build();

    @RegisterExtension
    static KafkaExtension kafka = KafkaExtension.builder().build();

    private static final String TOKEN = "browser-test-token-0123456789";
    private static final String CLUSTER = "dashboard-e2e";
    private static final int JOBS = 6_000;
    private static final String BACKFILL = "dash-nightly";
    private static final String MARKUP = "<img src=x onerror=\"window.__sluiceXss=1\">";

    @AutoClose
    final Closer closer = new Closer();

    @Test
    void thePageShowsTheFleetPausesAndResumesItAtTheHubAndShowsAHubOutageLive() throws Exception {
        HubSimulator hub = closer.add(HubSimulator.builder().latencyMs(50).build().start());
        String events = "dashboard-e2e.events";
        Coordinator coordinator = closer.add(Coordinators.config(kafka.bootstrapServers(), events, "dashboard-e2e.alerts")
                .section("redis", "url", redis.url())
                .section("cluster", "name", CLUSTER)
                .token("tester", TOKEN)
                .startInProcess());
        int[] ports = {freePort(), freePort()};
        String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1];
        List<NodeProcess> nodes = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            nodes.add(closer.add(Workers.worker("dash-" + i, redis.url(), kafka.bootstrapServers(), events, hub.baseUrl())
                    .env("SLUICE_CLUSTER_NAME", CLUSTER)
                    .env("SLUICE_CLUSTER_PORT", Integer.toString(ports[i]))
                    .env("SLUICE_CLUSTER_MEMBERS", members)
                    .env("SLUICE_HUB_MAX_REQUESTS_PER_SECOND", "1000")
                    .env("SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS", "40")
                    .env("SLUICE_NODE_CONCURRENCY", "8")
                    .env("SLUICE_BREAKER_FAILURE_THRESHOLD", "5")
                    .env("SLUICE_BREAKER_OPEN_SECS", "2")
                    .start()));
        }
        for (int i = 0; i < 2; i++) {
            Workers.awaitStarted(nodes.get(i), "dash-" + i);
        }
        Browser browser = closer.add(Browser.start());
        browser.driver.get(coordinator.uri().toString());

        // The nodes, from the first snapshot and the stream.
        awaitUntil(Duration.ofSeconds(30), () -> text(browser, "nodes-alive").equals("2")
                && browser.driver.findElements(By.cssSelector("#nodes-body tr.node.alive")).size() == 2);
        assertThat(text(browser, "limits-rps")).isEqualTo("1,000");

        Backfills backfills = new Backfills("sluice:jobs");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(backfills.begin(j, BACKFILL, MARKUP + " e2e")).isTrue();
            backfills.reserve(j, BACKFILL, JOBS);
            enqueue(j, JOBS);
            backfills.ended(j, BACKFILL, true, 0);
        }
        awaitUntil(Duration.ofSeconds(30), () -> kind(browser).equals("draining") || kind(browser).equals("rate-limited"));
        // The backfill's own progress and time to drain, from its counts and Redis's time.
        awaitUntil(Duration.ofSeconds(20), () -> backfillCell(browser, "estimate").matches("about .+ at [0-9.]+ jobs/s"));
        assertThat(backfillCell(browser, "counts")).contains(" of 6,000");
        // Who holds the fleet's permits: each node's count from its heartbeat, in the table and under the limits.
        awaitUntil(Duration.ofSeconds(15), () -> browser.driver.findElements(By.cssSelector("#nodes-body td.permits"))
                .stream().allMatch(td -> td.getText().matches("\\d+")));
        assertThat(text(browser, "limits-holders")).contains("dash-0: ").contains("dash-1: ").contains(" of 40 held");
        awaitUntil(Duration.ofSeconds(10), () -> arrivalsAfter(hub, System.nanoTime() - TimeUnit.SECONDS.toNanos(1)) > 20);
        browser.screenshot("dashboard-draining");

        // Pause from the page, with a reason that carries markup.
        browser.driver.findElement(By.id("token")).sendKeys(TOKEN);
        browser.driver.findElement(By.id("pause-reason")).sendKeys(MARKUP + " maintenance");
        long beforeClick = System.nanoTime();
        assertThat(arrivalsAfter(hub, beforeClick - TimeUnit.SECONDS.toNanos(1))).as("traffic right before the pause")
                .isGreaterThan(20);
        browser.driver.findElement(By.id("pause-button")).click();
        awaitUntil(Duration.ofSeconds(5), () -> kind(browser).equals("paused"));
        assertThat(text(browser, "why-text")).contains("paused by tester").contains(MARKUP);
        assertThat(text(browser, "op-result")).startsWith("Paused");
        long quietFrom = beforeClick + TimeUnit.SECONDS.toNanos(2);
        await().pollInterval(Duration.ofMillis(100)).atMost(Duration.ofSeconds(10))
                .until(() -> System.nanoTime() - quietFrom > TimeUnit.SECONDS.toNanos(3));
        assertThat(arrivalsAfter(hub, quietFrom)).as("requests that reached the Hub from 2 s after the pause").isZero();
        assertThat(browser.driver.findElements(By.cssSelector("img"))).as("markup from the reason shown as text").isEmpty();
        assertThat(browser.driver.executeScript("return window.__sluiceXss === undefined")).isEqualTo(true);
        assertThat(browser.driver.findElement(By.id("audit-list")).getText()).contains("tester: pause");
        for (NodeProcess node : nodes) {
            assertThat(node.log()).contains("the fleet is PAUSED");
        }
        browser.screenshot("dashboard-paused");

        // Resume from the page: the traffic comes back.
        long resumed = System.nanoTime();
        browser.driver.findElement(By.id("resume-button")).click();
        awaitUntil(Duration.ofSeconds(5), () -> arrivalsAfter(hub, resumed) > 20);
        awaitUntil(Duration.ofSeconds(10), () -> !kind(browser).equals("paused"));

        // A Hub outage: the breaker opens, the why line and the alert follow without a reload.
        hub.startOutage(503);
        try {
            awaitUntil(Duration.ofSeconds(20), () -> kind(browser).equals("breaker-open"));
            assertThat(text(browser, "why-text")).startsWith("Hub breaker open on");
            awaitUntil(Duration.ofSeconds(20), () -> !browser.driver.findElements(
                    By.cssSelector("#alerts-firing li[data-rule='SluiceBreakerNotClosed']")).isEmpty());
            browser.screenshot("dashboard-breaker-open");
        } finally {
            hub.endOutage();
        }
        awaitUntil(Duration.ofSeconds(30), () -> kind(browser).equals("draining") || kind(browser).equals("idle")
                || kind(browser).equals("rate-limited"));

        // Nothing lost: every job ends with its result or a dead letter, and the backfill counted each once.
        try (Jedis j = redis.server().newJedis()) {
            awaitUntil(Duration.ofSeconds(120), () -> j.keys("sluice:result:*").size() + j.xlen("sluice:dead") == JOBS);
            long results = j.keys("sluice:result:*").size();
            long dead = j.xlen("sluice:dead");
            System.out.printf("dashboard test: %d results, %d dead letters (the outage's)%n", results, dead);
            assertThat(j.hgetAll(backfills.key(BACKFILL))).containsEntry("done", Long.toString(results))
                    .containsEntry("dead", Long.toString(dead)).containsEntry("total", Integer.toString(JOBS));
            awaitUntil(Duration.ofSeconds(10), () -> backfillCell(browser, "estimate").equals("done: " + results + " of "
                    + JOBS + " jobs" + (dead > 0 ? ", " + dead + " dead-lettered" : "")));
        }
        awaitUntil(Duration.ofSeconds(20), () -> kind(browser).equals("idle"));
        browser.screenshot("dashboard-idle");
    }

    @Test
    void deadLettersAreListedAsTextShownWithTheTokenAndReplayedFromThePage() {
        String cluster = CLUSTER + "-dlq";
        Coordinator coordinator = closer.add(Coordinators.config(kafka.bootstrapServers(), "dash-dlq.events",
                        "dash-dlq.alerts")
                .section("redis", "url", redis.url())
                .section("cluster", "name", cluster)
                .token("tester", TOKEN)
                .startInProcess());
        try (Jedis j = redis.server().newJedis()) {
            j.del("sluice:dead", "sluice:jobs");
            for (int i = 0; i < 5; i++) {
                j.xadd("sluice:dead", StreamEntryID.NEW_ENTRY, Map.of("key", "gone-" + i, "dead.kind", "hub-rejected",
                        "dead.reason", MARKUP + " Hub answered 404", "dead.attempts", "1", "dead.node", "n1",
                        "dead.at", Long.toString(System.currentTimeMillis()), "dead.job_id", "hub-fetch:gone-" + i));
            }
            j.xadd("sluice:dead", StreamEntryID.NEW_ENTRY, Map.of("key", "huge", "dead.kind", "bad-job",
                    "dead.reason", "larger than queue.max_job_bytes", "dead.truncated", "1", "dead.node", "n1"));
            j.xadd("sluice:dead", StreamEntryID.NEW_ENTRY, Map.of("payload", "{not json", "dead.kind", "bad-job",
                    "dead.reason", "missing field 'key'", "dead.node", "n1"));
        }
        Browser browser = closer.add(Browser.start());
        browser.driver.get(coordinator.uri().toString());
        awaitUntil(Duration.ofSeconds(20), () -> text(browser, "dlq-total").equals("7")
                && browser.driver.findElements(By.cssSelector("#dlq-body tr.letter")).size() == 7);
        assertThat(browser.driver.findElement(By.id("dlq-body")).getText()).contains(MARKUP + " Hub answered 404");
        assertThat(browser.driver.findElements(By.cssSelector("img"))).as("markup from a dead letter shown as text").isEmpty();
        assertThat(browser.driver.executeScript("return window.__sluiceXss === undefined")).isEqualTo(true);

        // Without a token the job is not shown.
        browser.driver.findElements(By.cssSelector("#dlq-body tr.letter button.dlq-show")).getFirst().click();
        awaitUntil(Duration.ofSeconds(5), () -> text(browser, "dlq-payload").contains("enter your coordinator token"));
        browser.driver.findElement(By.id("token")).sendKeys(TOKEN);
        browser.driver.findElements(By.cssSelector("#dlq-body tr.letter button.dlq-show")).get(2).click();
        awaitUntil(Duration.ofSeconds(5), () -> text(browser, "dlq-payload").contains("\"key\": \"gone-"));

        // Two picked by hand, then all of one kind, then all: what cannot be replayed stays and is counted.
        List<WebElement> picks = browser.driver.findElements(By.cssSelector("#dlq-body tr.letter input.dlq-pick"));
        picks.get(2).click();
        picks.get(3).click();
        browser.driver.findElement(By.id("dlq-replay-selected")).click();
        try (Jedis j = redis.server().newJedis()) {
            awaitUntil(Duration.ofSeconds(5), () -> j.xlen("sluice:jobs") == 2 && j.xlen("sluice:dead") == 5);
            awaitUntil(Duration.ofSeconds(5), () -> text(browser, "dlq-progress").equals("Replayed 2 of 2."));
            browser.driver.findElement(By.id("dlq-replay-all")).click();
            awaitUntil(Duration.ofSeconds(10), () -> j.xlen("sluice:jobs") == 5 && j.xlen("sluice:dead") == 2);
            awaitUntil(Duration.ofSeconds(10), () -> text(browser, "dlq-progress")
                    .startsWith("Replay of all by tester: 3 replayed, 2 skipped."));
            assertThat(text(browser, "dlq-progress")).contains("too large to read").contains("does not parse");
            for (var e : j.xrange("sluice:jobs", (StreamEntryID) null, null)) {
                assertThat(e.getFields()).containsKey("key").doesNotContainKey("dead.kind").doesNotContainKey("attempts");
            }
            awaitUntil(Duration.ofSeconds(10), () -> browser.driver.findElements(By.cssSelector("#dlq-body tr.letter")).size() == 2);
            browser.screenshot("dashboard-dead-letters");
            // Discard the one that does not parse.
            for (WebElement row : browser.driver.findElements(By.cssSelector("#dlq-body tr.letter"))) {
                if (row.getText().contains("missing field 'key'")) {
                    row.findElement(By.cssSelector("input.dlq-pick")).click();
                }
            }
            browser.driver.findElement(By.id("dlq-discard-selected")).click();
            awaitUntil(Duration.ofSeconds(5), () -> j.xlen("sluice:dead") == 1);
            List<String> actions = j.xrevrange("sluice:audit:" + cluster, (StreamEntryID) null, null, 10).stream()
                    .map(e -> e.getFields().get("by") + " " + e.getFields().get("action")).toList();
            assertThat(actions).containsExactly("tester dlq-discard", "tester dlq-replay-all", "tester dlq-replay");
        }
        // And published on Kafka with who and when, under the node id "coordinator", which the state keeps no node for.
        awaitUntil(Duration.ofSeconds(20), () -> EventsTopic.read(kafka.bootstrapServers(), "dash-dlq.events").stream()
                .filter(e -> e.payload() instanceof EventPayload.OperatorAction a && a.by().equals("tester"))
                .map(e -> ((EventPayload.OperatorAction) e.payload()).action()).toList()
                .equals(List.of("dlq-replay", "dlq-replay-all", "dlq-discard")));
        assertThat(coordinator.snapshot().nodes()).as("no node made of the coordinator's own events").isEmpty();
    }

    @Test
    void theCoordinatorRefusesOperationsWithoutATokenFromAnotherSiteAndForAnotherHostName() throws Exception {
        Coordinator coordinator = closer.add(Coordinators.config(kafka.bootstrapServers(), "dash-refuse.events",
                        "dash-refuse.alerts")
                .section("redis", "url", redis.url())
                .section("cluster", "name", CLUSTER + "-refuse")
                .token("tester", TOKEN)
                .startInProcess());
        String base = "http://127.0.0.1:" + coordinator.port();
        assertThat(Http.post(base + "/api/fleet/pause", Map.of("Content-Type", "application/json"), "{}").status())
                .isEqualTo(401);
        assertThat(Http.post(base + "/api/fleet/pause", Map.of("Content-Type", "application/json",
                "Authorization", "Bearer wrong-token-0123456789"), "{}").status()).isEqualTo(401);
        assertThat(Http.post(base + "/api/fleet/pause", Map.of("Content-Type", "text/plain",
                "Authorization", "Bearer " + TOKEN), "{}").status()).as("a form's content type").isEqualTo(415);
        assertThat(Http.post(base + "/api/fleet/pause", Map.of("Content-Type", "application/json",
                "Authorization", "Bearer " + TOKEN, "Origin", "http://evil.example"), "{}").status()).isEqualTo(403);
        assertThat(Http.get(base + "/api/dashboard", Map.of("Host", "evil.example")).status())
                .as("DNS rebinding: another host name").isEqualTo(421);
        assertThat(Http.get(base + "/metrics", Map.of("Host", "prometheus-sees-another-name")).status())
                .as("scrapers reach /metrics by any name").isEqualTo(200);
        Http.Answer page = Http.get(base + "/", Map.of());
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.header("Content-Security-Policy")).contains("script-src 'self'").doesNotContain("unsafe-inline");
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.exists("sluice:limits:fleet:" + CLUSTER + "-refuse")).as("nothing was paused").isFalse();
        }
        Http.Answer ok = Http.post(base + "/api/fleet/pause", Map.of("Content-Type", "application/json",
                "Authorization", "Bearer " + TOKEN), "{\"reason\":\"check\"}");
        assertThat(ok.status()).isEqualTo(200);
        try (Jedis j = redis.server().newJedis()) {
            assertThat(j.hget("sluice:limits:fleet:" + CLUSTER + "-refuse", "paused_by")).isEqualTo("tester");
            assertThat(j.xlen("sluice:audit:" + CLUSTER + "-refuse")).isEqualTo(1);
        }
    }

    private static long arrivalsAfter(HubSimulator hub, long nanoTime) {
        long n = 0;
        for (Served s : hub.served()) {
            if (s.arrivedAt() - nanoTime > 0) {
                n++;
            }
        }
        return n;
    }

    private static String text(Browser browser, String id) {
        List<WebElement> found = browser.driver.findElements(By.id(id));
        return found.isEmpty() ? "" : found.getFirst().getText();
    }

    /** A cell of the backfill's row in the Backfills table, or "" while there is none. */
    private static String backfillCell(Browser browser, String cls) {
        List<WebElement> found = browser.driver.findElements(
                By.cssSelector("#backfills-body tr[data-backfill='" + BACKFILL + "'] td." + cls));
        return found.isEmpty() ? "" : found.getFirst().getText();
    }

    private static String kind(Browser browser) {
        String k = browser.driver.findElement(By.id("why")).getAttribute("data-kind");
        return k == null ? "" : k;
    }

    private static void enqueue(Jedis j, int jobs) {
        Pipeline p = j.pipelined();
        for (int i = 0; i < jobs; i++) {
            p.xadd("sluice:jobs", StreamEntryID.NEW_ENTRY, Map.of("key", "dash-" + i, "batch", BACKFILL));
        }
        p.sync();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return socket.getLocalPort();
        }
    }

    private static void awaitUntil(Duration atMost, Callable<Boolean> condition) {
        await().pollInterval(Duration.ofMillis(200)).atMost(atMost).ignoreExceptions().until(condition);
    }
}
