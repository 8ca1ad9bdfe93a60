package dev.sluice.common.config;

/**
 * {@code [metrics]}: the HTTP admin endpoint (metrics, health, status) of a node or the coordinator.
 *
 * @param port   the port; 0 picks a free one
 * @param bind   the interface to listen on
 * @param token  when set, endpoints that change state require {@code Authorization: Bearer <token>}
 */
public record MetricsConfig(int port, String bind, String token) {

    static MetricsConfig read(ConfigReader r) {
        return new MetricsConfig(
                r.intIn("metrics.port", 8081, 0, 65_535),
                r.nonBlank("metrics.bind", "0.0.0.0"),
                r.string("metrics.token", ""));
    }

    @Override
    public String toString() {
        return "MetricsConfig[port=" + port + ", bind=" + bind + ", token=" + (token.isEmpty() ? "" : "***") + "]";
    }
}
