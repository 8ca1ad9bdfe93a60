package dev.sluice.control;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Whether the fleet is paused, as the fleet's record holds it ({@link FleetRecord}). A paused fleet sends nothing new
 * to the Hub: nodes stop fetching, jobs not yet sent go back to the queue unattempted, requests already on the wire
 * finish.
 *
 * @param paused  whether the fleet is paused
 * @param by      who paused or resumed it last (a token's name, an operator's name, or "nobody" when never)
 * @param atMs    when, by Redis's clock (epoch ms; 0 when never)
 * @param reason  what they gave for it (may be empty)
 */
public record Pause(boolean paused, String by, long atMs, String reason) {
    /** A fleet that was never paused. */
    public static final Pause NEVER = new Pause(false, "nobody", 0, "");

    /** As JSON shows it. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("paused", paused);
        m.put("by", by);
        m.put("at", atMs == 0 ? null : Instant.ofEpochMilli(atMs).toString());
        m.put("reason", reason);
        return m;
    }

    /** {@code paused by alice at 2026-12-07T05:20:00Z (deploy of the Hub)}. */
    public String describe() {
        if (atMs == 0) {
            return "never paused";
        }
        return (paused ? "paused" : "resumed") + " by " + by + " at " + Instant.ofEpochMilli(atMs)
                + (reason.isEmpty() ? "" : " (" + reason + ")");
    }
}
