package dev.sluice.hubsim;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;


/**
 * The admin endpoints under {@value HubSimulator#ADMIN_PREFIX}; they are never counted as Hub requests.
 * Parameters go in the query string. A bad parameter is answered 400 with a message naming it, the rule and the
 * value, and changes nothing; so is an unknown parameter.
 * <ul>
 *   <li>{@code GET /admin/stats}: the {@link HubStats} document</li>
 *   <li>{@code POST /admin/reset}: starts a new observation period (204)</li>
 *   <li>{@code GET /admin/settings}: the current settings</li>
 *   <li>{@code POST /admin/settings?latencyMs=&jitterMs=&errorRate=&failFirst=&bodyBytes=&chunked=&bodyTrickleMs=}:
 *       changes those given, answers the settings</li>
 *   <li>{@code POST /admin/outage?on=true|false&status=503}: starts or ends an outage, answers the settings</li>
 * </ul>
 */
final class AdminHandler implements HttpHandler {
    private static final List<String> BEHAVIOUR_PARAMETERS = List.of("latencyMs", "jitterMs", "errorRate", "failFirst",
            "bodyBytes", "chunked", "bodyTrickleMs");
    private static final List<String> OUTAGE_PARAMETERS = List.of("on", "status");

    private final HubSimulator hub;

    AdminHandler(HubSimulator hub) {
        this.hub = hub;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Answer answer;
            try {
                answer = route(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                        exchange.getRequestURI().getRawQuery());
            } catch (IllegalArgumentException e) {
                answer = Answer.error(400, e.getMessage());
            }
            answer.sendTo(exchange);
        }
    }

    private Answer route(String method, String path, String rawQuery) {
        var endpoint = path.substring(HubSimulator.ADMIN_PREFIX.length());
        return switch (endpoint) {
            case "stats" -> method.equals("GET") ? Answer.json(200, hub.stats().toJson()) : notAllowed("GET");
            case "reset" -> {
                if (!method.equals("POST")) {
                    yield notAllowed("POST");
                }
                hub.resetStats();
                yield Answer.empty(204);
            }
            case "settings" -> switch (method) {
                case "GET" -> Answer.json(200, hub.settingsJson());
                case "POST" -> {
                    changeBehaviour(parameters(rawQuery, BEHAVIOUR_PARAMETERS));
                    yield Answer.json(200, hub.settingsJson());
                }
                default -> notAllowed("GET, POST");
            };
            case "outage" -> {
                if (!method.equals("POST")) {
                    yield notAllowed("POST");
                }
                changeOutage(parameters(rawQuery, OUTAGE_PARAMETERS));
                yield Answer.json(200, hub.settingsJson());
            }
            default -> Answer.error(404, "no admin endpoint " + path + "; there are stats, reset, settings, outage");
        };
    }

    private void changeBehaviour(Map<String, String> parameters) {
        var latencyMs = parameters.containsKey("latencyMs") ? wholeNumber(parameters, "latencyMs") : null;
        var jitterMs = parameters.containsKey("jitterMs") ? wholeNumber(parameters, "jitterMs") : null;
        var errorRate = parameters.containsKey("errorRate") ? decimal(parameters, "errorRate") : null;
        var failFirst = parameters.containsKey("failFirst") ? wholeNumber(parameters, "failFirst") : null;
        var bodyBytes = parameters.containsKey("bodyBytes") ? wholeNumber(parameters, "bodyBytes") : null;
        var chunked = parameters.containsKey("chunked") ? bool(parameters, "chunked") : null;
        var bodyTrickleMs = parameters.containsKey("bodyTrickleMs") ? wholeNumber(parameters, "bodyTrickleMs") : null;
        if (failFirst != null) {
            InvalidSettingException.requireBetween("failFirst", failFirst, 0, Behaviour.MAX_FAIL_FIRST);
        }
        hub.changeBehaviour(current -> new Behaviour(
                latencyMs != null ? latencyMs : current.latencyMs(),
                jitterMs != null ? jitterMs : current.jitterMs(),
                errorRate != null ? errorRate : current.errorRate(),
                failFirst != null ? failFirst.intValue() : current.failFirst(),
                new BodyShape(
                        bodyBytes != null ? bodyBytes : current.body().bytes(),
                        chunked != null ? chunked : current.body().chunked(),
                        bodyTrickleMs != null ? bodyTrickleMs : current.body().trickleMs())));
    }

    private void changeOutage(Map<String, String> parameters) {
        var on = parameters.get("on");
        if (!"true".equals(on) && !"false".equals(on)) {
            throw new InvalidSettingException("on", "must be true or false", on);
        }
        if (on.equals("false")) {
            hub.endOutage();
            return;
        }
        var status = parameters.containsKey("status") ? wholeNumber(parameters, "status") : Outage.DEFAULT_STATUS;
        hub.startOutage((int) InvalidSettingException.requireBetween("status", status, 400, 599));
    }

    private static Map<String, String> parameters(String rawQuery, List<String> allowed) {
        var parameters = new LinkedHashMap<String, String>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return parameters;
        }
        for (var pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            var equals = pair.indexOf('=');
            var name = decode(equals < 0 ? pair : pair.substring(0, equals));
            var value = equals < 0 ? "" : decode(pair.substring(equals + 1));
            if (!allowed.contains(name)) {
                throw new IllegalArgumentException("unknown parameter '" + name + "'; allowed are " + allowed);
            }
            parameters.put(name, value);
        }
        return parameters;
    }

    private static String decode(String text) {
        return URLDecoder.decode(text, StandardCharsets.UTF_8);
    }

    private static long wholeNumber(Map<String, String> parameters, String name) {
        var value = parameters.get(name);
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new InvalidSettingException(name, "must be a whole number", "'" + value + "'");
        }
    }

    private static boolean bool(Map<String, String> parameters, String name) {
        var value = parameters.get(name);
        if (!"true".equals(value) && !"false".equals(value)) {
            throw new InvalidSettingException(name, "must be true or false", "'" + value + "'");
        }
        return Boolean.parseBoolean(value);
    }

    private static double decimal(Map<String, String> parameters, String name) {
        var value = parameters.get(name);
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new InvalidSettingException(name, "must be a number", "'" + value + "'");
        }
    }

    private static Answer notAllowed(String allow) {
        return Answer.error(405, "method not allowed; use " + allow).withHeader("Allow", allow);
    }
}
