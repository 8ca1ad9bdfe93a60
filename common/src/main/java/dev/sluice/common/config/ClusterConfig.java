package dev.sluice.common.config;

import java.util.List;

/**
 * {@code [cluster]}: the embedded Hazelcast member that holds the fleet-wide limits.
 *
 * <p>Hazelcast's community edition has no member authentication: bind it to a private interface. Members accept no
 * client connections, and fleet control messages (pause, wake, leaving) carry an HMAC under {@code secret}.
 *
 * @param name               cluster name; members with another name never join
 * @param discovery          {@code tcp} (member list), {@code multicast} or {@code kubernetes}
 * @param members            {@code host[:port]} entries for tcp discovery (no port ranges)
 * @param port               the member's port
 * @param bindAddress        the interface the member binds to and advertises
 * @param kubernetesService  the service name for kubernetes discovery
 * @param memberTimeoutSecs  a member silent this long is declared gone
 * @param onStoreFailure     {@code fail-closed}, {@code local-share} or {@code fail-open}
 * @param secret             the key that authenticates fleet control messages (HMAC-SHA256), at least
 *                           {@value #MIN_SECRET_LENGTH} characters; empty when unset (messages are then not
 *                           authenticated)
 */
public record ClusterConfig(String name, Discovery discovery, List<String> members, int port, String bindAddress,
                            String kubernetesService, int memberTimeoutSecs, StoreFailurePolicy onStoreFailure, String secret) {

    /** The shortest {@code cluster.secret} accepted. */
    public static final int MIN_SECRET_LENGTH = 16;

    public ClusterConfig {
        secret = secret == null ? "" : secret;
    }

    /** A section without {@code secret}: control messages are not authenticated. */
    public ClusterConfig(String name, Discovery discovery, List<String> members, int port, String bindAddress,
                         String kubernetesService, int memberTimeoutSecs, StoreFailurePolicy onStoreFailure) {
        this(name, discovery, members, port, bindAddress, kubernetesService, memberTimeoutSecs, onStoreFailure, "");
    }

    /** Whether {@code cluster.secret} is set, so that control messages are authenticated. */
    public boolean authenticatesControlMessages() {
        return !secret.isEmpty();
    }

    static ClusterConfig read(ConfigReader r) {
        Discovery discovery = r.choice("cluster.discovery", Discovery.TCP, Discovery.class);
        List<String> members = r.stringList("cluster.members", List.of());
        for (String member : members) {
            if (member.contains("-") && member.matches(".*:\\d+-\\d+")) {
                throw r.outOfRange("cluster.members", null, member, "must list host[:port] entries without port ranges");
            }
        }
        String name = r.nonBlank("cluster.name", "sluice");
        int port = r.intIn("cluster.port", 5701, 1, 65_535);
        String bindAddress = r.nonBlank("cluster.bind_address", "127.0.0.1");
        String kubernetesService = r.nonBlank("cluster.kubernetes_service", "sluice-worker");
        int memberTimeoutSecs = r.intIn("cluster.member_timeout_secs", 5, 1, 600);
        StoreFailurePolicy onStoreFailure = r.choice("cluster.on_store_failure", StoreFailurePolicy.FAIL_CLOSED,
                StoreFailurePolicy.class);
        String secret = r.string("cluster.secret", "");
        if (!secret.isEmpty() && (secret.length() < MIN_SECRET_LENGTH || secret.isBlank())) {
            // The value itself never goes into a message, only its length.
            throw r.invalid("cluster.secret", "<hidden, " + secret.length() + " characters>",
                    "must be at least " + MIN_SECRET_LENGTH + " characters and not blank when set");
        }
        return new ClusterConfig(name, discovery, members, port, bindAddress, kubernetesService, memberTimeoutSecs,
                onStoreFailure, secret);
    }

    @Override
    public String toString() {
        return "ClusterConfig[name=" + name + ", discovery=" + discovery.id() + ", members=" + members + ", port=" + port
                + ", bindAddress=" + bindAddress + ", kubernetesService=" + kubernetesService + ", memberTimeoutSecs="
                + memberTimeoutSecs + ", onStoreFailure=" + onStoreFailure.id() + ", secret="
                + (secret.isEmpty() ? "" : ConfigView.HIDDEN) + "]";
    }
}
