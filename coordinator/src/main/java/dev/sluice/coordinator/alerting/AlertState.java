package dev.sluice.coordinator.alerting;

import java.util.Locale;

/** Where an alert is in its life: pending -> firing -> resolved. */
public enum AlertState {
    /** Its condition holds, but not yet for its rule's for-duration. */
    PENDING,
    /** Its condition has held for the for-duration; receivers are told. */
    FIRING,
    /** It fired and its condition no longer holds; kept for a while so receivers and the feed see the end. */
    RESOLVED,
    /** A pending alert whose condition went away before it fired (only ever the target of a transition). */
    INACTIVE;

    /** Lower-case name, as on the wire. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static AlertState fromWire(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
