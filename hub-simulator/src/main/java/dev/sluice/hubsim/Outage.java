package dev.sluice.hubsim;

/**
 * Whether the Hub is down, and the status it answers every Hub request with while it is.
 *
 * @param on     whether the outage is in progress
 * @param status the status answered during the outage, 400 to 599
 */
record Outage(boolean on, int status) {
    static final int DEFAULT_STATUS = 503;
    static final Outage NONE = new Outage(false, DEFAULT_STATUS);

    Outage {
        InvalidSettingException.requireBetween("status", status, 400, 599);
    }
}
