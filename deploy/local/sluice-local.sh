#!/usr/bin/env bash
# A Sluice cluster as plain processes on loopback, without Docker: redis-server from PATH (AOF on), a Kafka broker
# from the Maven Central jars (deploy/images/kafka/pom.xml), the Hub simulator, N worker nodes and, when its jar
# exists, the coordinator. Everything it starts writes its log, pid file and data under one folder.
#
#   deploy/local/sluice-local.sh up [N]          # N worker nodes (default 3); waits until all are ready
#   deploy/local/sluice-local.sh status          # processes, readiness, queue and Hub figures
#   deploy/local/sluice-local.sh enqueue 1..500 [ARG...]   # enqueue a numeric range of keys (more `sluice enqueue`
#                                                # arguments may follow, e.g. --prefix demo-)
#   deploy/local/sluice-local.sh env             # the endpoints as shell assignments (for scripts: eval "$(... env)")
#   deploy/local/sluice-local.sh logs [NAME]     # list the logs, or follow one (redis, kafka, hub, worker-1, ...)
#   deploy/local/sluice-local.sh down [--purge]  # stops what `up` started (by its pid files), and nothing else;
#                                                # --purge also deletes the data and logs (Redis AOF, Kafka log)
#
# Closed by default: everything it starts listens on 127.0.0.1 only (Redis, Kafka, the Hub simulator, the nodes'
# admin HTTP and Hazelcast member ports, the coordinator). Redis has no password, so on a machine shared with other
# users they can reach it: use docker-compose.yml (password, nothing published but on loopback) there.
#
# Needs: the jars (./mvnw -B -ntp -DskipTests package), redis-server and redis-cli on PATH, a JDK 21+ (JAVA_HOME,
# default /usr/lib/jvm/temurin-25-jdk-amd64), curl. The Kafka classpath is resolved once with the Maven wrapper.
#
# Settings (environment; none of these names starts with a configuration section, so the nodes ignore them):
#   SLUICE_LOCAL_DIR         run folder (deploy/local/run)
#   SLUICE_LOCAL_PORT_BASE   added to every port (default 10000: Redis 16379, Kafka 19092 and 19093, Hub 18080,
#                            coordinator 18090, worker i: admin HTTP 18100+i, Hazelcast 15700+i)
#   SLUICE_LOCAL_HUB_RPS, SLUICE_LOCAL_HUB_IN_FLIGHT, SLUICE_LOCAL_HUB_LATENCY_MS   the Hub simulator (100, 10, 20);
#                            the nodes get the same rate and in-flight limits, which they keep fleet-wide
#   SLUICE_LOCAL_CONFIG      the nodes' TOML file (deploy/config/development.toml); SLUICE_<SECTION>_<KEY>
#                            variables in your environment override it as usual.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
run=${SLUICE_LOCAL_DIR:-$here/run}
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
java=$java_home/bin/java
config=${SLUICE_LOCAL_CONFIG:-$repo/deploy/config/development.toml}

base=${SLUICE_LOCAL_PORT_BASE:-10000}
redis_port=$(( base + 6379 ))
kafka_port=$(( base + 9092 ))
controller_port=$(( base + 9093 ))
hub_port=$(( base + 8080 ))
coordinator_port=$(( base + 8090 ))
worker_admin_port() { echo $(( base + 8100 + $1 )); }
worker_cluster_port() { echo $(( base + 5700 + $1 )); }

hub_rps=${SLUICE_LOCAL_HUB_RPS:-100}
hub_in_flight=${SLUICE_LOCAL_HUB_IN_FLIGHT:-10}
hub_latency=${SLUICE_LOCAL_HUB_LATENCY_MS:-20}

worker_jar=$repo/worker-node/target/sluice-worker.jar
hub_jar=$repo/hub-simulator/target/sluice-hub-simulator.jar
coordinator_jar=$repo/coordinator/target/sluice-coordinator.jar
kafka_pom=$repo/deploy/images/kafka/pom.xml
kafka_classpath_file=$repo/deploy/images/kafka/target/classpath

hazelcast_opens=(--add-exports java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED)

say() { echo "[sluice-local] $*"; }
die() { echo "[sluice-local] $*" >&2; exit 1; }

# --- processes -----------------------------------------------------------------------------------------------
pid_file() { echo "$run/pids/$1.pid"; }

# A pid file's process, if it still runs and is still ours: its command line names the run folder (every process
# started here gets it as an argument or a system property), so a recycled pid is never taken for ours.
live_pid() {
  local f pid
  f=$(pid_file "$1")
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -F -- "$run" || return 1
  echo "$pid"
}

# start NAME COMMAND...: runs COMMAND in its own session, output to logs/NAME.log, pid to pids/NAME.pid.
start() {
  local name=$1
  shift
  mkdir -p "$run/logs" "$run/pids"
  setsid "$@" >>"$run/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# stop NAME [GRACE_SECS]: SIGTERM, then SIGKILL after the grace period.
stop() {
  local name=$1 grace=${2:-10} pid
  if ! pid=$(live_pid "$name"); then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $(( grace * 5 ))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) still runs after $grace s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  say "stopped $name (pid $pid)"
}

names() {
  [ -d "$run/pids" ] || return 0
  local f
  for f in "$run"/pids/*.pid; do
    [ -e "$f" ] && basename "$f" .pid
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for WHAT SECS NAME CHECK...: polls CHECK until it succeeds; fails early when NAME's process is gone.
wait_for() {
  local what=$1 secs=$2 name=$3
  shift 3
  for _ in $(seq 1 $(( secs * 4 ))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    live_pid "$name" >/dev/null || die "$what exited; last lines of $run/logs/$name.log:
$(tail -15 "$run/logs/$name.log")"
    sleep 0.25
  done
  die "$what not ready within $secs s; see $run/logs/$name.log"
}

# --- the environment every node gets -------------------------------------------------------------------------
node_env() {
  local i=$1 n=$2 members="" k
  for k in $(seq 1 "$n"); do members+="${members:+,}127.0.0.1:$(worker_cluster_port "$k")"; done
  # The nodes share the Hub's limits fleet-wide through their Hazelcast cluster, so every node gets the Hub's own.
  env_args=(
    SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
    SLUICE_HUB_BASE_URL="http://127.0.0.1:$hub_port"
    SLUICE_HUB_MAX_REQUESTS_PER_SECOND="${SLUICE_HUB_MAX_REQUESTS_PER_SECOND:-$hub_rps}"
    SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS="${SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS:-$hub_in_flight}"
    SLUICE_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$kafka_port"
    SLUICE_METRICS_BIND=127.0.0.1
    SLUICE_METRICS_PORT="$(worker_admin_port "$i")"
    SLUICE_CLUSTER_DISCOVERY=tcp
    SLUICE_CLUSTER_BIND_ADDRESS=127.0.0.1
    SLUICE_CLUSTER_PORT="$(worker_cluster_port "$i")"
    SLUICE_CLUSTER_MEMBERS="$members"
  )
}

# --- Kafka ---------------------------------------------------------------------------------------------------
kafka_classpath() {
  if [ ! -s "$kafka_classpath_file" ] || [ "$kafka_pom" -nt "$kafka_classpath_file" ]; then
    say "resolving the Kafka broker's classpath (Maven wrapper, once)" >&2
    (cd "$repo" && JAVA_HOME=$java_home ./mvnw -B -ntp -q -f "$kafka_pom" dependency:build-classpath >&2) \
      || die "could not resolve the Kafka jars with $kafka_pom"
  fi
  cat "$kafka_classpath_file"
}

start_kafka() {
  local dir=$run/kafka cp
  cp=$(kafka_classpath)
  mkdir -p "$dir/data"
  # The testkit's single-node KRaft set, on loopback.
  cat >"$dir/server.properties" <<EOF
node.id=1
process.roles=broker,controller
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
controller.quorum.voters=1@127.0.0.1:$controller_port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=1
num.io.threads=2
background.threads=2
log.cleaner.threads=1
EOF
  local logback=-Dlogback.configurationFile=$repo/deploy/images/kafka/logback.xml
  "$java" -Xmx256m "$logback" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
    -t 5L6g3nShT-eMCtK--X86sw -c "$dir/server.properties" >>"$run/logs/kafka.log" 2>&1 \
    || die "formatting $dir/data failed; see $run/logs/kafka.log"
  start kafka "$java" -Xmx512m -Xms512m -XX:+ExitOnOutOfMemoryError "$logback" -Dsluice.local="$run" -cp "$cp" kafka.Kafka "$dir/server.properties"
}

# deploy/prometheus/prometheus-local.yml reads this (file_sd): the admin endpoints that `up` started.
write_prometheus_targets() {
  local n=$1 i entries=()
  for i in $(seq 1 "$n"); do
    entries+=("{\"targets\": [\"127.0.0.1:$(worker_admin_port "$i")\"], \"labels\": {\"service\": \"worker-node\", \"local_name\": \"worker-$i\"}}")
  done
  if [ -f "$coordinator_jar" ]; then
    entries+=("{\"targets\": [\"127.0.0.1:$coordinator_port\"], \"labels\": {\"service\": \"coordinator\"}}")
  fi
  local IFS=,
  printf '[%s]\n' "${entries[*]}" >"$run/prometheus-targets.json"
}

# --- commands ------------------------------------------------------------------------------------------------
cmd_up() {
  local n=${1:-3}
  [[ "$n" =~ ^[1-9][0-9]?$ ]] || die "up takes a number of worker nodes from 1 to 99, but was '$n'"
  [ -x "$java" ] || die "no java at $java (set JAVA_HOME)"
  command -v redis-server >/dev/null || die "redis-server is not on PATH (Debian: apt-get install redis-server)"
  for jar in "$worker_jar" "$hub_jar"; do
    [ -f "$jar" ] || die "$jar is missing: build the jars first (./mvnw -B -ntp -DskipTests package)"
  done
  local running
  running=$(for name in $(names); do live_pid "$name" >/dev/null && echo "$name"; done || true)
  [ -z "$running" ] || die "already up ($(echo $running)); run down first"
  local ports=("$redis_port" "$kafka_port" "$controller_port" "$hub_port")
  for i in $(seq 1 "$n"); do ports+=("$(worker_admin_port "$i")" "$(worker_cluster_port "$i")"); done
  [ -f "$coordinator_jar" ] && ports+=("$coordinator_port")
  for p in "${ports[@]}"; do port_free "$p" || die "port $p is in use (set SLUICE_LOCAL_PORT_BASE)"; done

  mkdir -p "$run/logs" "$run/pids" "$run/redis"
  local t0=$SECONDS
  # A failed start stops what it had started.
  trap 'status=$?; if [ "$status" -ne 0 ]; then say "up failed: stopping what it started"; cmd_down; fi' EXIT
  say "run folder $run"

  # set-proc-title no: Redis keeps its command line, which names the run folder (see live_pid).
  start redis redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run/redis" --appendonly yes \
    --appendfsync everysec --maxmemory-policy noeviction --save "" --set-proc-title no
  wait_for "Redis" 20 redis redis-cli -p "$redis_port" ping
  say "redis    127.0.0.1:$redis_port (AOF in $run/redis)"
  # The fleet's live limits record stays in Redis's AOF across runs, and nodes follow it over their configuration: set
  # it to this run's limits (the Hub simulator's), so an earlier run's (or a `sluice limits set`) does not linger.
  env SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port" "$java" -Xmx128m -jar "$worker_jar" limits set --config "$config" \
    --rps "${SLUICE_HUB_MAX_REQUESTS_PER_SECOND:-$hub_rps}" \
    --in-flight "${SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS:-$hub_in_flight}" --by sluice-local >/dev/null \
    || die "could not set the fleet's limits in Redis"

  start_kafka
  start hub "$java" -Xmx128m -XX:+ExitOnOutOfMemoryError -Dsluice.local="$run" -jar "$hub_jar" --host 127.0.0.1 --port "$hub_port" \
    --max-rps "$hub_rps" --max-in-flight "$hub_in_flight" --latency-ms "$hub_latency" --jitter-ms 10
  wait_for "the Hub simulator" 60 hub curl -fsS "http://127.0.0.1:$hub_port/admin/stats"
  say "hub      http://127.0.0.1:$hub_port (limits $hub_rps req/s, $hub_in_flight in flight)"
  wait_for "Kafka" 90 kafka "$repo/deploy/images/kafka/healthcheck.sh" "$kafka_port"
  say "kafka    127.0.0.1:$kafka_port"

  for i in $(seq 1 "$n"); do
    node_env "$i" "$n"
    start "worker-$i" env "${env_args[@]}" "$java" -Xmx256m -XX:+ExitOnOutOfMemoryError "${hazelcast_opens[@]}" \
      -Dsluice.local="$run" -jar "$worker_jar" worker --config "$config"
  done
  for i in $(seq 1 "$n"); do
    wait_for "worker-$i" 90 "worker-$i" curl -fsS "http://127.0.0.1:$(worker_admin_port "$i")/health/ready"
    say "worker-$i http://127.0.0.1:$(worker_admin_port "$i")/api/status (Hazelcast port $(worker_cluster_port "$i"))"
  done

  if [ -f "$coordinator_jar" ]; then
    # An operator's token for the dashboard's operations (pause, resume, limits), new for each run, kept in the run's
    # folder (readable by its owner only).
    operator_token_file="$run/operator-token"
    if [ ! -s "$operator_token_file" ]; then
      (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$operator_token_file")
    fi
    start coordinator env SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port" \
      SLUICE_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$kafka_port" SLUICE_METRICS_BIND=127.0.0.1 \
      SLUICE_METRICS_PORT="$coordinator_port" SLUICE_COORDINATOR_TOKENS="operator=$(cat "$operator_token_file")" \
      "$java" -Xmx256m -XX:+ExitOnOutOfMemoryError -Dsluice.local="$run" -jar "$coordinator_jar" --config "$config"
    wait_for "the coordinator" 90 coordinator curl -fsS "http://127.0.0.1:$coordinator_port/health/ready"
    say "coordinator http://127.0.0.1:$coordinator_port/ (dashboard; its operations take the token in $operator_token_file)"
  else
    say "coordinator: $coordinator_jar missing; not started"
  fi
  write_prometheus_targets "$n"
  trap - EXIT
  say "up: $n worker node(s) in $(( SECONDS - t0 )) s. Enqueue with: $0 enqueue 1..5000"
}

cmd_down() {
  local name any=0
  # Workers first (they drain: node.drain_timeout_secs, 20 s by default), then the rest in reverse start order.
  for name in $(names | grep '^worker-' || true); do any=1; stop "$name" 30 & done
  wait
  for name in coordinator hub kafka redis; do
    [ -f "$(pid_file "$name")" ] || continue
    any=1
    stop "$name" 20
  done
  if [ "${1:-}" = --purge ]; then
    rm -rf "$run/redis" "$run/kafka" "$run/logs" "$run/pids" "$run/prometheus-targets.json"
    say "down; data and logs deleted from $run"
  elif [ "$any" = 0 ]; then
    say "nothing to stop in $run"
  else
    say "down (logs and data stay in $run; down --purge deletes them)"
  fi
}

cmd_status() {
  local name pid rows=0
  for name in $(names); do
    rows=1
    if pid=$(live_pid "$name"); then
      local health=""
      case "$name" in
        worker-*)
          local i=${name#worker-} url
          url="http://127.0.0.1:$(worker_admin_port "$i")"
          health=$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready" || true)
          health="ready=$health $url" ;;
        hub) health="http://127.0.0.1:$hub_port" ;;
        kafka) "$repo/deploy/images/kafka/healthcheck.sh" "$kafka_port" && health="answers" || health="not answering" ;;
        redis) health=$(redis-cli -p "$redis_port" ping 2>&1 || true) ;;
        coordinator)
          health=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$coordinator_port/health/ready" || true)
          health="ready=$health http://127.0.0.1:$coordinator_port/api/cluster" ;;
      esac
      printf '%-12s running  pid %-8s %s\n' "$name" "$pid" "$health"
    else
      printf '%-12s STOPPED  (log: %s)\n' "$name" "$run/logs/$name.log"
    fi
  done
  [ "$rows" = 1 ] || { say "nothing started from $run"; return 0; }
  if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    local r=(redis-cli -p "$redis_port" --raw) pending
    pending=$("${r[@]}" xpending sluice:jobs sluice 2>/dev/null | head -1)
    [[ "$pending" =~ ^[0-9]+$ ]] || pending=0
    echo "queue: in stream $("${r[@]}" xlen sluice:jobs), pending $pending," \
      "delayed $("${r[@]}" zcard sluice:delayed), dead $("${r[@]}" xlen sluice:dead)," \
      "results $("${r[@]}" eval "return #redis.call('keys', ARGV[1])" 0 'sluice:result:*')"
  fi
  if live_pid hub >/dev/null; then echo "hub: $(curl -s "http://127.0.0.1:$hub_port/admin/stats")"; fi
}

cmd_enqueue() {
  local range=${1:?enqueue takes a range, e.g. 1..500}
  shift
  [ -f "$worker_jar" ] || die "$worker_jar is missing"
  env SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port" "$java" -Xmx256m -jar "$worker_jar" enqueue \
    --config "$config" --range "$range" "$@"
}

cmd_env() {
  cat <<EOF
SLUICE_LOCAL_RUN='$run'
SLUICE_LOCAL_REDIS_PORT=$redis_port
SLUICE_LOCAL_KAFKA=127.0.0.1:$kafka_port
SLUICE_LOCAL_HUB_URL=http://127.0.0.1:$hub_port
SLUICE_LOCAL_COORDINATOR_URL=http://127.0.0.1:$coordinator_port
SLUICE_LOCAL_WORKER_ADMIN_PORT_1=$(worker_admin_port 1)
EOF
}

cmd_logs() {
  if [ -z "${1:-}" ]; then
    ls -l "$run/logs" 2>/dev/null || say "no logs in $run"
  else
    [ -f "$run/logs/$1.log" ] || die "no log $run/logs/$1.log"
    tail -n 50 -F "$run/logs/$1.log"
  fi
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  enqueue) shift; cmd_enqueue "$@" ;;
  env) cmd_env ;;
  logs) shift; cmd_logs "$@" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
