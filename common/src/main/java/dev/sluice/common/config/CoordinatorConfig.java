package dev.sluice.common.config;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code [coordinator]}: the service that consumes node events, keeps the cluster state and raises alerts (the
 * rules themselves are {@link AlertsConfig}).
 *
 * @param groupId                Kafka consumer group of the events consumer
 * @param evaluationIntervalMs   how often the alert rules are evaluated
 * @param heartbeatIntervalMs    heartbeat interval assumed for a node that has not announced its own
 * @param replaySecs             on start the events of this many past seconds are read again to rebuild the state
 * @param nodeForgetSecs         a node silent (or stopped) this long is dropped from the state and its alerts resolve
 * @param resolvedRetentionSecs  resolved alerts stay in the feed and on the alerts topic this long
 * @param externalUrl            base of the alerts' {@code generatorURL}; {@code null}: this host and
 *                               {@code [metrics] port}
 * @param webhookUrl             Alertmanager-compatible receiver ({@code .../api/v2/alerts}); {@code null}: no webhook
 * @param webhookTimeoutMs       timeout of one webhook request
 * @param webhookResendSecs      firing alerts are sent again this often (keep it well below the receiver's resolve
 *                               timeout, 5 minutes for Alertmanager)
 * @param webhookMaxAttempts     attempts per webhook delivery before it is given up
 * @param webhookBackoffMs       delay before the first retry; doubled for each further one
 * @param tokens                 named tokens for the dashboard's and the HTTP API's operations (pause, resume,
 *                               limits, dead-letter replay): name to token; the name is who the audit records. Empty:
 *                               the coordinator is read-only
 * @param hostnames              the names the coordinator answers to besides localhost, 127.0.0.1, [::1], its bind
 *                               address, its host name and {@code external_url}'s host: a request with another
 *                               {@code Host} is refused (DNS rebinding)
 */
public record CoordinatorConfig(String groupId, int evaluationIntervalMs, int heartbeatIntervalMs, int replaySecs,
                                int nodeForgetSecs, int resolvedRetentionSecs, URI externalUrl, URI webhookUrl,
                                int webhookTimeoutMs, int webhookResendSecs, int webhookMaxAttempts,
                                int webhookBackoffMs, Map<String, String> tokens, List<String> hostnames) {

    private static final List<String> HTTP = List.of("http", "https");

    static CoordinatorConfig read(ConfigReader r) {
        return new CoordinatorConfig(
                r.nonBlank("coordinator.group_id", "sluice-coordinator"),
                r.intIn("coordinator.evaluation_interval_ms", 1_000, 10, 60_000),
                r.intIn("coordinator.heartbeat_interval_ms", 5_000, 100, 600_000),
                r.intIn("coordinator.replay_secs", 600, 0, 86_400),
                r.intIn("coordinator.node_forget_secs", 3_600, 1, 604_800),
                r.intIn("coordinator.resolved_retention_secs", 3_600, 0, 604_800),
                r.optionalUrl("coordinator.external_url", HTTP),
                r.optionalUrl("coordinator.webhook_url", HTTP),
                r.intIn("coordinator.webhook_timeout_ms", 5_000, 1, 600_000),
                r.intIn("coordinator.webhook_resend_secs", 60, 1, 3_600),
                r.intIn("coordinator.webhook_max_attempts", 5, 1, 100),
                r.intIn("coordinator.webhook_backoff_ms", 500, 1, 600_000),
                tokens(r),
                hostnames(r));
    }

    /** The shortest token taken: shorter ones are guessable. */
    public static final int MIN_TOKEN_LENGTH = 16;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@-]{1,64}");
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.:\\[\\]-]{1,253}");

    private static Map<String, String> tokens(ConfigReader r) {
        Map<String, String> tokens = r.stringMap("coordinator.tokens");
        Map<String, String> seen = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : tokens.entrySet()) {
            if (!NAME.matcher(e.getKey()).matches()) {
                throw r.invalid("coordinator.tokens", e.getKey(), "names must be 1 to 64 letters, digits, '.', '_', "
                        + "'@' or '-'");
            }
            String token = e.getValue() == null ? "" : e.getValue().strip();
            if (token.length() < MIN_TOKEN_LENGTH || token.chars().anyMatch(c -> c <= ' ' || c > '~')) {
                throw r.invalid("coordinator.tokens", e.getKey() + " = (" + token.length() + " characters, not shown)",
                        "tokens must be at least " + MIN_TOKEN_LENGTH + " printable ASCII characters without spaces");
            }
            for (Map.Entry<String, String> other : seen.entrySet()) {
                if (other.getValue().equals(token)) {
                    throw r.invalid("coordinator.tokens", e.getKey(), "every name needs its own token, but it has "
                            + other.getKey() + "'s");
                }
            }
            seen.put(e.getKey(), token);
        }
        return Map.copyOf(seen);
    }

    private static List<String> hostnames(ConfigReader r) {
        List<String> names = r.stringList("coordinator.hostnames", List.of());
        for (String n : names) {
            if (!HOST.matcher(n).matches()) {
                throw r.invalid("coordinator.hostnames", n, "must be host names or addresses (letters, digits, '.', "
                        + "'-', ':', '[', ']')");
            }
        }
        return names;
    }

    /** The webhook receiver, if one is configured. */
    public Optional<URI> webhook() {
        return Optional.ofNullable(webhookUrl);
    }

    @Override
    public String toString() {
        return "CoordinatorConfig[groupId=" + groupId + ", evaluationIntervalMs=" + evaluationIntervalMs
                + ", heartbeatIntervalMs=" + heartbeatIntervalMs + ", replaySecs=" + replaySecs + ", nodeForgetSecs="
                + nodeForgetSecs + ", resolvedRetentionSecs=" + resolvedRetentionSecs + ", externalUrl="
                + redact(externalUrl) + ", webhookUrl=" + redact(webhookUrl) + ", webhookTimeoutMs=" + webhookTimeoutMs
                + ", webhookResendSecs=" + webhookResendSecs + ", webhookMaxAttempts=" + webhookMaxAttempts
                + ", webhookBackoffMs=" + webhookBackoffMs + ", tokens=" + tokens.keySet() + " (values not shown)"
                + ", hostnames=" + hostnames + "]";
    }

    private static String redact(URI uri) {
        return uri == null ? "" : ConfigReader.redactUserInfo(uri.toString());
    }
}
