package dev.sluice.worker.admin;

/**
 * The answer to a readiness probe.
 *
 * @param ready  true when the node is running and sees Redis
 * @param reason why it is not ready (null when ready)
 */
public record Readiness(boolean ready, String reason) {

    public static Readiness readyNow() {
        return new Readiness(true, null);
    }

    public static Readiness notReady(String reason) {
        return new Readiness(false, reason);
    }
}
