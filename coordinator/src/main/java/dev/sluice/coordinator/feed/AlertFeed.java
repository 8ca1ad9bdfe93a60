package dev.sluice.coordinator.feed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.sluice.adminhttp.Responses;
import dev.sluice.coordinator.alerting.Alert;
import dev.sluice.coordinator.alerting.AlertCodec;
import dev.sluice.coordinator.alerting.AlertEngine;
import dev.sluice.coordinator.alerting.AlertState;

import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /api/alerts}: the alerts now, as JSON.
 *
 * <pre>
 * {"at":"…","lastEvaluation":"…","firing":[…],"pending":[…],"resolved":[…newest first…],
 *  "inhibited":{"hub_error_rate":"breaker hub is OPEN on n1"}}
 * </pre>
 *
 * <p>Each alert is {@link AlertCodec} JSON. {@code ?fingerprint=F} answers that one alert (404 if unknown);
 * {@code ?state=firing} (or pending, resolved) keeps only that list.
 */
public final class AlertFeed {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final AlertEngine engine;
    private final Clock clock;

    public AlertFeed(AlertEngine engine, Clock clock) {
        this.engine = engine;
        this.clock = clock;
    }

    public void serve(HttpExchange exchange) throws IOException {
        Map<String, String> query = Responses.query(exchange);
        String fingerprint = query.get("fingerprint");
        if (fingerprint != null) {
            var alert = engine.find(fingerprint);
            if (alert.isEmpty()) {
                Responses.error(exchange, 404, "no alert with fingerprint " + fingerprint);
            } else {
                Responses.json(exchange, 200, AlertCodec.toJson(alert.get()));
            }
            return;
        }
        String only = query.get("state");
        if (only != null && !List.of("firing", "pending", "resolved").contains(only)) {
            Responses.error(exchange, 400, "state must be firing, pending or resolved, but was " + only);
            return;
        }
        Responses.json(exchange, 200, view(only));
    }

    /** The JSON answer; {@code only} limits it to one list (null: all). */
    public ObjectNode view(String only) {
        ObjectNode root = JSON.createObjectNode();
        root.put("at", clock.instant().toString());
        var last = engine.lastEvaluation();
        root.put("lastEvaluation", last == null ? null : last.toString());
        List<Alert> active = engine.active();
        if (only == null || only.equals("firing")) {
            root.set("firing", array(active.stream().filter(a -> a.state() == AlertState.FIRING).toList()));
        }
        if (only == null || only.equals("pending")) {
            root.set("pending", array(active.stream().filter(a -> a.state() == AlertState.PENDING).toList()));
        }
        if (only == null || only.equals("resolved")) {
            root.set("resolved", array(engine.recentlyResolved()));
        }
        ObjectNode inhibited = root.putObject("inhibited");
        engine.inhibitions().forEach(inhibited::put);
        return root;
    }

    private static ArrayNode array(List<Alert> alerts) {
        ArrayNode array = JSON.createArrayNode();
        alerts.forEach(a -> array.add(AlertCodec.toJson(a)));
        return array;
    }
}
