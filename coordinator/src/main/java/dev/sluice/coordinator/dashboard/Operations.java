package dev.sluice.coordinator.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.control.FleetLimits;
import dev.sluice.control.FleetRecord;
import dev.sluice.adminhttp.Operation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The operations of the dashboard and the HTTP API: pause, resume and the fleet's live limits. Each goes through the
 * fleet's record in Redis (which audits it), never to a node; nodes follow within 2 s. Who is the name of the token
 * the request carried.
 *
 * <ul>
 *   <li>{@code POST /api/fleet/pause} {@code {"reason": "..."}}</li>
 *   <li>{@code POST /api/fleet/resume} {@code {"reason": "..."}}</li>
 *   <li>{@code POST /api/fleet/limits} {@code {"maxRequestsPerSecond": N, "maxInFlight": M, "expectVersion": V}}
 *       ({@code expectVersion} optional: 409 when the limits moved since)</li>
 * </ul>
 */
public final class Operations {
    private static final Logger log = LoggerFactory.getLogger(Operations.class);

    private final FleetControl fleet;

    public Operations(FleetControl fleet) {
        this.fleet = fleet;
    }

    public Operation.Result pause(String who, JsonNode body) {
        return pauseOrResume(who, body, true);
    }

    public Operation.Result resume(String who, JsonNode body) {
        return pauseOrResume(who, body, false);
    }

    private Operation.Result pauseOrResume(String who, JsonNode body, boolean pause) {
        JsonNode reason = body.path("reason");
        if (!reason.isMissingNode() && !reason.isNull() && !reason.isTextual()) {
            return bad("reason must be text");
        }
        String why = reason.isTextual() ? reason.asText() : "";
        try {
            FleetRecord.Change change = pause ? fleet.pause(who, why) : fleet.resume(who, why);
            log.info("fleet {} by {} through the coordinator{}", pause ? "paused" : "resumed", who,
                    change.applied() ? "" : " (it already was)");
            if (change.applied()) {
                fleet.announce(who, pause ? "pause" : "resume", why);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("applied", change.applied());
            out.put("pause", change.record().pause().toMap());
            out.put("version", change.record().version());
            return new Operation.Result(200, out);
        } catch (IllegalArgumentException e) {
            return bad(e.getMessage());
        } catch (FleetControl.RedisUnavailable e) {
            return new Operation.Result(503, Map.of("error", e.getMessage()));
        }
    }

    public Operation.Result limits(String who, JsonNode body) {
        JsonNode rps = body.path("maxRequestsPerSecond");
        JsonNode inFlight = body.path("maxInFlight");
        JsonNode expect = body.path("expectVersion");
        if (!rps.canConvertToInt() || !rps.isIntegralNumber() || !inFlight.canConvertToInt() || !inFlight.isIntegralNumber()) {
            return bad("maxRequestsPerSecond and maxInFlight must be whole numbers (1 to " + FleetLimits.MAX_PER_SECOND
                    + " and 1 to " + FleetLimits.MAX_IN_FLIGHT + ")");
        }
        if (!expect.isMissingNode() && !expect.isNull() && !(expect.isIntegralNumber() && expect.canConvertToLong())) {
            return bad("expectVersion must be a whole number (the limits version seen)");
        }
        Long expected = expect.isIntegralNumber() ? expect.asLong() : null;
        try {
            FleetRecord.Change change = fleet.setLimits(expected, rps.asInt(), inFlight.asInt(), who);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("applied", change.applied());
            out.put("limits", change.limits() == null ? null : change.limits().toMap());
            if (!change.applied()) {
                out.put("error", "not changed: the limits are no longer at version " + expected);
                return new Operation.Result(409, out);
            }
            log.info("fleet limits set to {} per second, {} in flight by {} through the coordinator", rps.asInt(),
                    inFlight.asInt(), who);
            fleet.announce(who, "set-limits", rps.asInt() + " per second, " + inFlight.asInt() + " in flight");
            return new Operation.Result(200, out);
        } catch (IllegalArgumentException e) {
            return bad(e.getMessage());
        } catch (FleetControl.RedisUnavailable e) {
            return new Operation.Result(503, Map.of("error", e.getMessage()));
        }
    }

    private static Operation.Result bad(String message) {
        return new Operation.Result(400, Map.of("error", message));
    }
}
