package dev.sluice.common.config;

/** {@code cluster.discovery}: how nodes find each other. */
public enum Discovery implements Choice {
    /** The listed {@code cluster.members}. */
    TCP,
    /** IP multicast on the local network. */
    MULTICAST,
    /** The pods behind {@code cluster.kubernetes_service}. */
    KUBERNETES
}
