package dev.sluice.common.config;

import java.util.List;

/**
 * {@code [cluster]}: the embedded Hazelcast member that holds the fleet-wide limits.
 *
 * <p>Hazelcast's community edition has no member authentication: bind it to a private interface.
 *
 * @param name               cluster name; members with another name never join
 * @param discovery          {@code tcp} (member list), {@code multicast} or {@code kubernetes}
 * @param members            {@code host[:port]} entries for tcp discovery (no port ranges)
 * @param port               the member's port
 * @param bindAddress        the interface the member binds to and advertises
 * @param kubernetesService  the service name for kubernetes discovery
 * @param memberTimeoutSecs  a member silent this long is declared gone
 * @param onStoreFailure     {@code fail-closed}, {@code local-share} or {@code fail-open}
 */
public record ClusterConfig(String name, String discovery, List<String> members, int port, String bindAddress,
                            String kubernetesService, int memberTimeoutSecs, String onStoreFailure) {

    static ClusterConfig read(ConfigReader r) {
        String discovery = r.oneOf("cluster.discovery", "tcp", List.of("tcp", "multicast", "kubernetes"));
        List<String> members = r.stringList("cluster.members", List.of());
        for (String member : members) {
            if (member.contains("-") && member.matches(".*:\\d+-\\d+")) {
                throw r.outOfRange("cluster.members", null, member, "must list host[:port] entries without port ranges");
            }
        }
        return new ClusterConfig(
                r.nonBlank("cluster.name", "sluice"),
                discovery,
                members,
                r.intIn("cluster.port", 5701, 1, 65_535),
                r.nonBlank("cluster.bind_address", "127.0.0.1"),
                r.nonBlank("cluster.kubernetes_service", "sluice-worker"),
                r.intIn("cluster.member_timeout_secs", 5, 1, 600),
                r.oneOf("cluster.on_store_failure", "fail-closed", List.of("fail-closed", "local-share", "fail-open")));
    }
}
