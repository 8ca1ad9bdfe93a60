#!/usr/bin/env bash
# Entrypoint of the stand-in Kafka image. Takes the apache/kafka image's environment: every KAFKA_FOO_BAR
# becomes foo.bar in server.properties (lower case; '___' stands for '-', '__' for '_', '_' for '.'), CLUSTER_ID
# names the cluster, KAFKA_HEAP_OPTS / KAFKA_JVM_PERFORMANCE_OPTS / KAFKA_OPTS go to the JVM. Without any KAFKA_*
# setting it runs the official image's default: one combined broker and controller on localhost:9092/9093.
# Formats the log directory on first start (kafka.tools.StorageTool), then runs kafka.Kafka in the foreground.
set -euo pipefail

home=/opt/kafka
config=${KAFKA_CONFIG_FILE:-$home/config/server.properties}
: "${CLUSTER_ID:=5L6g3nShT-eMCtK--X86sw}"
: "${KAFKA_HEAP_OPTS:=-Xmx512m -Xms512m}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true}"

# Variables of the official scripts that are not broker properties.
not_properties=" KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS KAFKA_LOG4J_OPTS \
KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS KAFKA_TOOLS_LOG4J_LOGLEVEL KAFKA_DEBUG KAFKA_HOME KAFKA_VERSION \
KAFKA_CONFIG_FILE KAFKA_LOG_LEVEL "

property_name() {
  local name=${1#KAFKA_}
  name=${name,,}
  name=${name//___/-}
  name=${name//__/$'\x01'}
  name=${name//_/.}
  printf '%s' "${name//$'\x01'/_}"
}

props=()
while IFS='=' read -r var _; do
  case "$var" in KAFKA_*) ;; *) continue ;; esac
  [[ "$not_properties" == *" $var "* ]] && continue
  props+=("$(property_name "$var")=${!var}")
done < <(env | LC_ALL=C sort)

mkdir -p "$(dirname "$config")"
{
  echo "# written by $0 from the environment at $(date -u +%FT%TZ)"
  if [ ${#props[@]} -eq 0 ]; then
    echo "# no KAFKA_* settings: the official image's single-node default"
    cat <<'DEFAULTS'
node.id=1
process.roles=broker,controller
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
controller.quorum.voters=1@localhost:9093
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
DEFAULTS
  else
    printf '%s\n' "${props[@]}"
  fi
  if ! printf '%s\n' "${props[@]}" | grep -q '^log\.dirs='; then
    echo "log.dirs=/var/lib/kafka/data"
  fi
} >"$config"

log_dirs=$(sed -n 's/^log\.dirs=//p' "$config" | tail -1)
IFS=',' read -r -a dirs <<<"$log_dirs"
for d in "${dirs[@]}"; do mkdir -p "$d"; done

classpath="$home/libs/*"
jvm=(java -Dlogback.configurationFile="$home/config/logback.xml" -cp "$classpath")

format=(kafka.tools.StorageTool format --ignore-formatted -t "$CLUSTER_ID" -c "$config")
if ! grep -q '^controller\.quorum\.voters=' "$config" && grep -q '^controller\.quorum\.bootstrap\.servers=' "$config"; then
  format+=(--standalone)   # dynamic quorum of one controller
fi
# shellcheck disable=SC2086  # the *_OPTS variables are lists of JVM options
"${jvm[@]}" -Xmx256m ${KAFKA_OPTS:-} "${format[@]}"

# shellcheck disable=SC2086
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_OPTS:-} \
  -Dlogback.configurationFile="$home/config/logback.xml" -cp "$classpath" kafka.Kafka "$config"
