#!/usr/bin/env bash
# The worker image's entrypoint, installed as /usr/local/bin/sluice: `sluice worker --config FILE`,
# `sluice enqueue ...`, `sluice queue stats`, as the CLI of sluice-worker.jar.
#
# Hazelcast binds to the container's own address (cluster.bind_address), never to every interface: the community
# edition has no member authentication. Unless SLUICE_CLUSTER_BIND_ADDRESS is set, it is the first address the
# container's host name resolves to (its address on the compose network).
set -euo pipefail

if [ -z "${SLUICE_CLUSTER_BIND_ADDRESS:-}" ]; then
  address=$(hostname -i 2>/dev/null | awk '{print $1}')
  if [ -n "$address" ]; then
    export SLUICE_CLUSTER_BIND_ADDRESS=$address
  fi
fi

# What embedded Hazelcast asks for on Java 9+ (its documented list); kept apart from JAVA_OPTS so that setting
# JAVA_OPTS (the heap, say) does not drop them.
hazelcast_opens="--add-exports java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED
 --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
 --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED"

# shellcheck disable=SC2086  # JAVA_OPTS and the opens are lists of options
exec java ${JAVA_OPTS:-} $hazelcast_opens -jar /app/sluice-worker.jar "$@"
