package dev.sluice.control;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The whole fleet record at one version: its live Hub limits and whether it is paused.
 *
 * @param version goes up with every change of either (the limits carry the version of their own last change)
 */
public record FleetState(long version, FleetLimits limits, Pause pause) {
    /** As JSON shows it. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", version);
        m.put("limits", limits.toMap());
        m.put("pause", pause.toMap());
        return m;
    }
}
