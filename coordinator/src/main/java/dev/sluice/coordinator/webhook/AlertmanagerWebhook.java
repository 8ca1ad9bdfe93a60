package dev.sluice.coordinator.webhook;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertListener;
import dev.sluice.coordinator.alerting.AlertState;
import dev.sluice.coordinator.alerting.AlertTransition;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.common.health.Loops;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Sends alerts to a receiver that speaks Prometheus Alertmanager's {@code POST /api/v2/alerts}: a JSON array of
 * {@code {"labels":{…},"annotations":{…},"startsAt":…,"endsAt":…,"generatorURL":…}}.
 *
 * <ul>
 *   <li>An alert that fires is sent at once, without {@code endsAt} (the receiver keeps it for its resolve timeout).
 *   <li>Every firing alert is sent again each resend interval, with its unchanged {@code startsAt}, so the receiver
 *       never times it out while it fires (keep the interval well below the receiver's resolve timeout, 5 minutes by
 *       default in Alertmanager). The watchdog is one of them.
 *   <li>A resolved alert is sent once more with {@code endsAt}, its resolution time.
 *   <li>A delivery that fails (connection error, timeout, 5xx, 408, 429) is tried again after a backoff that doubles
 *       (capped at the resend interval), up to the maximum attempts; other 4xx answers are not retried.
 * </ul>
 *
 * <p>Deliveries go out one at a time, in order, from one thread; {@link #onTransitions} only queues them. While a
 * resend is still queued, the next one is not added. An exception other than a failed post (say, from the source of
 * the firing alerts) gives that delivery up, counted as failed, and the sender goes on after a backoff; an
 * {@link Error} ends it, and the {@link LoopWatch} reports it, as it reports a sender that has deliveries waiting and
 * has not come round for three of its rounds.
 */
public final class AlertmanagerWebhook implements AlertListener, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AlertmanagerWebhook.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_QUEUED = 1_000;
    private static final String DELIVERIES_HELP = "Webhook posts to the Alertmanager, by outcome";

    /**
     * @param url             the receiver, e.g. {@code http://alertmanager:9093/api/v2/alerts}; user info in it is
     *                        sent as basic authentication, never logged
     * @param timeout         of one request
     * @param resendInterval  firing alerts are sent again this often
     * @param maxAttempts     per delivery
     * @param backoff         before the first retry; doubled each time
     * @param externalUrl     base of the alerts' {@code generatorURL}
     */
    public record Settings(URI url, Duration timeout, Duration resendInterval, int maxAttempts, Duration backoff,
                           URI externalUrl) {
        public Settings {
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(resendInterval, "resendInterval");
            Objects.requireNonNull(backoff, "backoff");
            Objects.requireNonNull(externalUrl, "externalUrl");
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be at least 1, but was " + maxAttempts);
            }
        }
    }

    /** One delivery: what to send, computed when it is sent. */
    private record Delivery(String kind, Supplier<List<Alert>> alerts) {
    }

    private final Settings settings;
    private final Supplier<List<Alert>> firing;
    private final URI target;
    private final String authorization;
    private final HttpClient client;
    private final BlockingQueue<Delivery> queue = new LinkedBlockingQueue<>(MAX_QUEUED);
    private final AtomicBoolean resendQueued = new AtomicBoolean();
    private final ScheduledExecutorService ticker;
    private final Thread sender;
    private final LoopWatch.Loop loop;
    private final Counter delivered;
    private final Counter failed;
    private final Counter retried;
    private volatile boolean closed;
    /** Deliveries queued or being sent. */
    private final AtomicInteger outstanding = new AtomicInteger();

    /**
     * @param firing  the alerts firing now (the engine's), for the resends
     */
    public AlertmanagerWebhook(Settings settings, Supplier<List<Alert>> firing, MeterRegistry meters) {
        this(settings, firing, meters, LoopWatch.forCoordinator());
    }

    /** @param watch watches the sender thread, and takes its errors */
    public AlertmanagerWebhook(Settings settings, Supplier<List<Alert>> firing, MeterRegistry meters,
                               LoopWatch watch) {
        this.settings = settings;
        this.firing = firing;
        this.target = withoutUserInfo(settings.url());
        String userInfo = settings.url().getUserInfo();
        this.authorization = userInfo == null ? null
                : "Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
        this.client = HttpClient.newBuilder().connectTimeout(settings.timeout()).build();
        this.delivered = Counter.builder("sluice.coordinator.webhook.deliveries").description(DELIVERIES_HELP).tag("outcome", "delivered").register(meters);
        this.failed = Counter.builder("sluice.coordinator.webhook.deliveries").description(DELIVERIES_HELP).tag("outcome", "failed").register(meters);
        this.retried = Counter.builder("sluice.coordinator.webhook.retries")
                .description("Webhook posts retried after a failure").register(meters);
        this.loop = watch.register("webhook-sender", longestRound(settings), () -> outstanding.get() > 0);
        this.sender = Thread.ofVirtual().name("sluice-webhook").uncaughtExceptionHandler(watch.uncaughtHandler())
                .start(() -> {
                    boolean ended = false;
                    try {
                        Loops.restarting("webhook-sender", this::deliverLoop);
                        ended = true;
                        loop.stopped();
                    } finally {
                        if (!ended) {
                            loop.died();
                        }
                    }
                });
        this.ticker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("sluice-webhook-resend")
                .daemon().factory());
        long every = settings.resendInterval().toMillis();
        ticker.scheduleAtFixedRate(this::queueResend, every, every, TimeUnit.MILLISECONDS);
    }

    /** The receiver's address without credentials, for logs and status pages. */
    public URI target() {
        return target;
    }

    @Override
    public void onTransitions(List<AlertTransition> transitions) {
        List<Alert> changed = transitions.stream()
                .filter(t -> t.to() == AlertState.FIRING || t.to() == AlertState.RESOLVED)
                .map(AlertTransition::alert)
                .toList();
        if (!changed.isEmpty()) {
            offer(new Delivery("transitions", () -> changed));
        }
    }

    private void queueResend() {
        if (resendQueued.compareAndSet(false, true)) {
            if (!offer(new Delivery("resend", () -> {
                resendQueued.set(false);
                return firing.get();
            }))) {
                resendQueued.set(false);
            }
        }
    }

    private boolean offer(Delivery delivery) {
        if (closed) {
            return false;
        }
        outstanding.incrementAndGet();
        if (!queue.offer(delivery)) {
            outstanding.decrementAndGet();
            failed.increment();
            log.warn("webhook queue full ({} deliveries waiting for {}): dropping a {} delivery", MAX_QUEUED, target,
                    delivery.kind());
            return false;
        }
        return true;
    }

    /**
     * The longest a round of the sender takes when all is well: one post (connecting, then waiting for the answer,
     * each up to the timeout) or the longest pause between two attempts.
     */
    private static Duration longestRound(Settings settings) {
        Duration pause = settings.backoff();
        for (int attempt = 2; attempt < settings.maxAttempts() && pause.compareTo(settings.resendInterval()) < 0;
             attempt++) {
            pause = pause.multipliedBy(2);
        }
        Duration post = settings.timeout().multipliedBy(2);
        pause = min(pause, settings.resendInterval());
        return post.compareTo(pause) >= 0 ? post : pause;
    }

    /** Sends until closed; an exception (not a failed post: those are retried) gives the delivery up and escapes. */
    private void deliverLoop() throws InterruptedException {
        while (!closed) {
            Delivery delivery = queue.take();
            try {
                List<Alert> alerts = delivery.alerts().get();
                if (!alerts.isEmpty()) {
                    deliver(delivery.kind(), body(alerts), alerts.size());
                }
            } catch (RuntimeException e) {
                failed.increment();
                throw e;
            } finally {
                outstanding.decrementAndGet();
                loop.tick();
            }
        }
    }

    private void deliver(String kind, byte[] body, int count) throws InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(target)
                .timeout(settings.timeout())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        Duration pause = settings.backoff();
        for (int attempt = 1; ; attempt++) {
            String problem;
            boolean retryable;
            try {
                HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
                int status = response.statusCode();
                if (status / 100 == 2) {
                    delivered.increment();
                    log.debug("webhook {}: {} alerts delivered to {}", kind, count, target);
                    return;
                }
                problem = "HTTP " + status + ": " + abbreviate(response.body());
                retryable = status >= 500 || status == 408 || status == 429;
            } catch (IOException e) {
                problem = e.toString();
                retryable = true;
            }
            loop.tick();
            if (!retryable || attempt >= settings.maxAttempts() || closed) {
                failed.increment();
                log.warn("webhook {} of {} alerts to {} failed after {} attempts: {}", kind, count, target, attempt,
                        problem);
                return;
            }
            retried.increment();
            log.info("webhook {} to {} failed (attempt {} of {}), retrying in {}: {}", kind, target, attempt,
                    settings.maxAttempts(), pause, problem);
            Thread.sleep(pause);
            loop.tick();
            pause = min(pause.multipliedBy(2), settings.resendInterval());
        }
    }

    /** The Alertmanager API v2 body for these alerts. */
    byte[] body(List<Alert> alerts) {
        ArrayNode array = JSON.createArrayNode();
        for (Alert alert : alerts) {
            ObjectNode node = array.addObject();
            ObjectNode labels = node.putObject("labels");
            alert.labels().forEach(labels::put);
            ObjectNode annotations = node.putObject("annotations");
            alert.annotations().forEach(annotations::put);
            node.put("startsAt", (alert.startsAt() != null ? alert.startsAt() : alert.activeAt()).toString());
            if (alert.state() == AlertState.RESOLVED && alert.endsAt() != null) {
                node.put("endsAt", alert.endsAt().toString());
            }
            node.put("generatorURL", generatorUrl(alert));
        }
        try {
            return JSON.writeValueAsBytes(array);
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot write the webhook body", e);
        }
    }

    private String generatorUrl(Alert alert) {
        String base = settings.externalUrl().toString();
        if (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        return base + "/api/alerts?fingerprint=" + URLEncoder.encode(alert.fingerprint(), StandardCharsets.UTF_8);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static String abbreviate(String text) {
        String oneLine = text == null ? "" : text.replaceAll("\\s+", " ").strip();
        return oneLine.length() <= 200 ? oneLine : oneLine.substring(0, 200) + "…";
    }

    private static URI withoutUserInfo(URI uri) {
        if (uri.getUserInfo() == null) {
            return uri;
        }
        try {
            return new URI(uri.getScheme(), null, uri.getHost(), uri.getPort(), uri.getPath(), uri.getQuery(),
                    uri.getFragment());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("cannot strip the user info of the webhook URL", e);
        }
    }

    /**
     * Stops resending, gives the deliveries already queued (a resolution, say) up to {@code drainTimeout} to go out,
     * then stops; what is left is dropped.
     */
    public void close(Duration drainTimeout) {
        ticker.shutdownNow();
        long deadline = System.nanoTime() + drainTimeout.toNanos();
        try {
            while (outstanding.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closed = true;
        sender.interrupt();
        try {
            sender.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
    }

    /** {@link #close(Duration)} with two seconds for what is queued. */
    @Override
    public void close() {
        close(Duration.ofSeconds(2));
    }
}
