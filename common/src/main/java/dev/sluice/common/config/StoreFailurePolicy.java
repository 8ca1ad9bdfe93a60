package dev.sluice.common.config;

/** {@code cluster.on_store_failure}: what a node does while the fleet's limiter store cannot be used. */
public enum StoreFailurePolicy implements Choice {
    /** Send nothing to the Hub until the store answers again. */
    FAIL_CLOSED,
    /** Send within this node's share of the fleet's limits, as last known. */
    LOCAL_SHARE,
    /** Send without fleet limits. */
    FAIL_OPEN
}
