#!/usr/bin/env bash
# The one-command demo: brings a Sluice cluster up (docker compose when a Docker engine answers, otherwise the same
# topology as local processes through deploy/local/sluice-local.sh), enqueues a backfill of 5,000 demo jobs, shows
# a progress bar until the queue has drained, prints a summary (jobs done, dead-lettered, throughput, the Hub
# simulator's observed maxima against its limits, the alerts the coordinator raised) and points at the
# coordinator. The cluster stays up afterwards; `deploy/demo.sh down` stops it.
#
#   deploy/demo.sh                    # Docker if an engine answers, else local processes
#   deploy/demo.sh --local            # local processes (redis-server on PATH; no Docker)
#   deploy/demo.sh --docker           # docker compose (fails if no engine answers)
#   deploy/demo.sh --jobs 20000 --nodes 5
#   deploy/demo.sh down               # stops what the demo started (compose project, or the local processes)
#
# Options: --jobs N (5000), --nodes N (3 worker nodes), --down-after (tear the cluster down after the summary).
# It gives up when no job finishes for SLUICE_DEMO_STALL_SECS (300).
# Builds the jars first when they are missing (./mvnw -B -ntp -DskipTests package). Needs python3 (and, for
# --local, what sluice-local.sh needs: redis-server, curl; when they are missing it installs them from Debian with
# deploy/install-deps.sh --for demo, which prints the command to run when it cannot). At the end it prints the
# coordinator's dashboard URL, http://127.0.0.1:<coordinator port>/ (8090 with Docker, 18090 local). The Hub
# simulator's limits are SLUICE_HUBSIM_MAX_RPS (200) and SLUICE_HUBSIM_MAX_IN_FLIGHT (20); the workers get the same
# limits and keep them fleet-wide.
#
# Docker: the compose project is SLUICE_DEMO_PROJECT (sluice), the coordinator is published on
# SLUICE_PUBLISH_COORDINATOR (8090) and, like every published port, on SLUICE_PUBLISH_ADDR (127.0.0.1: this host
# only). Redis's password is REDIS_PASSWORD, or docker-compose.yml's placeholder when it is unset (the demo says
# which); Redis is not published, the demo reaches it with `docker exec` (redis-cli authenticates by REDISCLI_AUTH).
# Where no container registry is reachable, run deploy/ci-docker.sh once: the demo then uses the local stand-in
# images it built (sluice/jre, sluice/redis, sluice/kafka) when they are present and SLUICE_IMAGE_* are not set.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jobs=5000
nodes=3
mode=auto
down_after=0
action=run
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=${2:?--jobs takes a number}; shift 2 ;;
    --nodes) nodes=${2:?--nodes takes a number}; shift 2 ;;
    --local) mode=local; shift ;;
    --docker) mode=docker; shift ;;
    --down-after) down_after=1; shift ;;
    down) action=down; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "[demo] unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]{0,7}$ ]] || { echo "[demo] --jobs must be a whole number from 1, but was '$jobs'" >&2; exit 2; }
[[ "$nodes" =~ ^[1-9][0-9]?$ ]] || { echo "[demo] --nodes must be from 1 to 99, but was '$nodes'" >&2; exit 2; }

export SLUICE_HUBSIM_MAX_RPS=${SLUICE_HUBSIM_MAX_RPS:-200}
export SLUICE_HUBSIM_MAX_IN_FLIGHT=${SLUICE_HUBSIM_MAX_IN_FLIGHT:-20}
project=${SLUICE_DEMO_PROJECT:-sluice}
state_file=${SLUICE_LOCAL_DIR:-$repo/deploy/local/run}/demo-mode   # what `down` stops
token_file=${SLUICE_LOCAL_DIR:-$repo/deploy/local/run}/operator-token   # the dashboard's operator token
local_sh=$repo/deploy/local/sluice-local.sh

if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
say() { echo "[demo] $*"; }
die() { echo "[demo] $*" >&2; exit 1; }

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
if docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose); else compose_cmd=(docker-compose); fi
compose() { "${compose_cmd[@]}" -p "$project" "$@"; }

# GET a URL: prints the body, fails on a non-2xx answer or no answer.
get() {
  "$py" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode("utf-8", "replace"))
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
PY
}
post() {
  "$py" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"", method="POST"), timeout=5).read()
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
PY
}
json() { "$py" -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print(v)' "$1"; }

# --- down ----------------------------------------------------------------------------------------------------
if [ "$action" = down ]; then
  started=$(cat "$state_file" 2>/dev/null || true)
  case "$started" in
    docker) compose down -v ;;
    local) "$local_sh" down ;;
    *) die "nothing to stop: no demo was started from here (or it was stopped already)" ;;
  esac
  rm -f "$state_file"
  say "stopped the $started demo cluster"
  exit 0
fi

case "$mode" in
  auto) if engine_answers; then mode=docker; else mode=local; fi ;;
  docker) engine_answers || die "--docker: no Docker engine answers (start dockerd, or use --local)" ;;
esac

# --- what local processes need -------------------------------------------------------------------------------
if [ "$mode" = local ]; then
  lacking=""
  for c in redis-server redis-cli curl; do command -v "$c" >/dev/null 2>&1 || lacking+=" $c"; done
  if [ -n "$lacking" ]; then
    say "the cluster as local processes needs${lacking}, not on PATH: installing from Debian (deploy/install-deps.sh --for demo)"
    "$repo/deploy/install-deps.sh" --for demo || exit $?
  fi
fi

# --- jars ----------------------------------------------------------------------------------------------------
if [ ! -f worker-node/target/sluice-worker.jar ] || [ ! -f hub-simulator/target/sluice-hub-simulator.jar ] \
  || [ ! -f coordinator/target/sluice-coordinator.jar ]; then
  say "building the jars (./mvnw -B -ntp -DskipTests package; a few minutes the first time)"
  ./mvnw -B -ntp -q -DskipTests package
fi

t_start=$SECONDS
prefix="demo-$(date +%Y%m%d-%H%M%S)-"
mkdir -p "$(dirname "$state_file")"

# --- up ------------------------------------------------------------------------------------------------------
if [ "$mode" = docker ]; then
  # The stand-ins deploy/ci-docker.sh builds where no registry is reachable, if present and not overridden.
  jre_feature=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' pom.xml | head -1)
  standin() { [ -z "${!1:-}" ] && docker image inspect "$2" >/dev/null 2>&1 && export "$1=$2" && say "using the local image $2 ($1)"; }
  standin SLUICE_IMAGE_JRE "sluice/jre:$jre_feature" || true
  standin SLUICE_IMAGE_REDIS sluice/redis:bookworm || true
  standin SLUICE_IMAGE_KAFKA "sluice/kafka:$kafka_version" || true
  export SLUICE_FLEET_MAX_RPS=$SLUICE_HUBSIM_MAX_RPS SLUICE_FLEET_MAX_IN_FLIGHT=$SLUICE_HUBSIM_MAX_IN_FLIGHT
  # An operator's token for the dashboard's operations (pause, resume, limits, dead letters), unless one is given.
  if [ -z "${SLUICE_COORDINATOR_TOKENS:-}" ]; then
    mkdir -p "$(dirname "$token_file")"
    [ -s "$token_file" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
    export SLUICE_COORDINATOR_TOKENS="operator=$(cat "$token_file")"
  fi
  say "starting the cluster with docker compose (project $project): Redis, Kafka, the Hub simulator, $nodes worker nodes, the coordinator"
  echo docker >"$state_file"
  up_log=$(mktemp)
  if ! compose up -d --build --scale worker-node="$nodes" >"$up_log" 2>&1; then
    tail -30 "$up_log" >&2
    rm -f "$up_log"
    die "docker compose up failed (where no registry is reachable, run deploy/ci-docker.sh once to build local images)"
  fi
  rm -f "$up_log"
  containers() {
    docker ps -q --filter "label=com.docker.compose.project=$project" ${1:+--filter "label=com.docker.compose.service=$1"}
  }
  deadline=$(( SECONDS + 300 ))
  while :; do
    states=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $(containers) 2>/dev/null || true)
    [ -n "$states" ] && [ -z "$(awk '$2 != "healthy"' <<<"$states")" ] && break
    grep -q -E ' (unhealthy|exited|dead)$' <<<"$states" && { echo "$states" >&2; die "a container failed; see: ${compose_cmd[*]} -p $project logs"; }
    [ "$SECONDS" -ge "$deadline" ] && { echo "$states" >&2; die "the cluster did not become healthy within 300 s"; }
    [ -t 1 ] && printf '\r[demo] waiting for the containers to become healthy (%d s)' $(( SECONDS - t_start ))
    sleep 2
  done
  if [ -t 1 ]; then printf '\r\033[K'; fi
  redis_c=$(containers redis | head -1)
  worker_c=$(containers worker-node | head -1)
  # host:port a published port answers on (SLUICE_PUBLISH_ADDR, 127.0.0.1 by default; 0.0.0.0 is reached on loopback).
  published() {
    local a
    a=$(compose port "$1" "$2" | tail -1)
    [ -n "$a" ] || die "compose port $1 $2: not published"
    case "${a%:*}" in
      0.0.0.0|::|'[::]') echo "127.0.0.1:${a##*:}" ;;
      *) echo "$a" ;;
    esac
  }
  hub_url=http://$(published hub 8080)
  coordinator_url=http://$(published coordinator 8090)
  if [ -z "${REDIS_PASSWORD:-}" ]; then
    say "Redis's password is docker-compose.yml's placeholder: set REDIS_PASSWORD for your own (see README.md, Security)"
  fi
  rcli() { docker exec "$redis_c" redis-cli "$@"; }
  enqueue() { docker exec "$worker_c" sluice enqueue --config /etc/sluice/production.toml --range "1..$jobs" --prefix "$prefix"; }
  stop_hint="deploy/demo.sh down   (or: ${compose_cmd[*]} -p $project down -v)"
else
  say "no Docker engine: starting the cluster as local processes (deploy/local/sluice-local.sh up $nodes)"
  if [ -n "$("$local_sh" status 2>/dev/null | grep ' running ' || true)" ]; then
    say "a local cluster is already up; using it"
  else
    echo local >"$state_file"
    SLUICE_LOCAL_HUB_RPS=$SLUICE_HUBSIM_MAX_RPS SLUICE_LOCAL_HUB_IN_FLIGHT=$SLUICE_HUBSIM_MAX_IN_FLIGHT "$local_sh" up "$nodes"
  fi
  eval "$("$local_sh" env)"
  hub_url=$SLUICE_LOCAL_HUB_URL
  coordinator_url=$SLUICE_LOCAL_COORDINATOR_URL
  rcli() { redis-cli -p "$SLUICE_LOCAL_REDIS_PORT" "$@"; }
  enqueue() { "$local_sh" enqueue "1..$jobs" --prefix "$prefix"; }
  stop_hint="deploy/demo.sh down   (or: deploy/local/sluice-local.sh down)"
fi
say "cluster up in $(( SECONDS - t_start )) s"

# --- backfill ------------------------------------------------------------------------------------------------
limits=$(get "$hub_url/admin/stats" | json '"%d %d" % (d["limits"]["maxRequestsPerSecond"], d["limits"]["maxInFlight"])')
read -r limit_rps limit_in_flight <<<"$limits"
alerts_before=$(get "$coordinator_url/api/alerts" | json '" ".join(a["fingerprint"] for a in d["firing"] + d["pending"] + d["resolved"])')
post "$hub_url/admin/reset" || die "could not reset the Hub simulator's figures at $hub_url"
dead_before=$(rcli xlen sluice:dead)
say "enqueueing $jobs jobs (keys ${prefix}1..${prefix}$jobs)"
enqueue >/dev/null
t_enqueued=$(date +%s%N)

# This run's jobs with a result (the sink is idempotent by job id: a job done twice counts once).
done_count() { rcli --raw eval "return #redis.call('keys', ARGV[1])" 0 "sluice:result:hub-fetch:${prefix}*"; }
stall_secs=${SLUICE_DEMO_STALL_SECS:-300}
tty=0
[ -t 1 ] && tty=1
last_print=0
last_finished=-1
last_change=0
while :; do
  n=$(done_count)
  dead=$(( $(rcli xlen sluice:dead) - dead_before ))
  finished=$(( n + dead ))
  secs=$(( ($(date +%s%N) - t_enqueued) / 1000000000 ))
  rate=$(( secs > 0 ? n / secs : 0 ))
  if [ "$tty" = 1 ]; then
    width=40
    filled=$(( finished * width / jobs ))
    bar=$(printf '%*s' "$filled" '' | tr ' ' '#')$(printf '%*s' $(( width - filled )) '' | tr ' ' '.')
    printf '\r[demo] [%s] %5d / %d done, %d dead-lettered, %d jobs/s, %d s ' "$bar" "$n" "$jobs" "$dead" "$rate" "$secs"
  elif [ $(( secs - last_print )) -ge 5 ] || [ "$finished" -ge "$jobs" ]; then
    echo "[demo] $n / $jobs done, $dead dead-lettered, $rate jobs/s, $secs s"
    last_print=$secs
  fi
  [ "$finished" -ge "$jobs" ] && break
  if [ "$finished" != "$last_finished" ]; then
    last_finished=$finished
    last_change=$secs
  elif [ $(( secs - last_change )) -ge "$stall_secs" ]; then
    echo
    die "no job finished for $stall_secs s ($finished of $jobs); look at the coordinator's $coordinator_url/api/alerts and the Hub's $hub_url/admin/stats"
  fi
  sleep 1
done
[ "$tty" = 1 ] && echo
elapsed_ms=$(( ($(date +%s%N) - t_enqueued) / 1000000 ))

# --- summary -------------------------------------------------------------------------------------------------
stats=$(get "$hub_url/admin/stats")
sleep 2   # the coordinator evaluates every second and hears the nodes' heartbeats every 5 s
alerts=$(get "$coordinator_url/api/alerts")
throughput=$("$py" -c "print('%.1f' % ($n * 1000 / $elapsed_ms))")
"$py" - "$stats" "$alerts" "$alerts_before" <<PY
import json, sys
stats, alerts, before = json.loads(sys.argv[1]), json.loads(sys.argv[2]), set(sys.argv[3].split())
def ok(v, limit): return "within" if v <= limit else "OVER"
w, f = stats["maxWindowRequests"], stats["maxInFlight"]
print()
print("Sluice demo summary (%s)" % "$mode")
def line(label, text): print("  %-19s %s" % (label, text))
line("jobs done", "%d of %d in %.1f s: %s jobs/s" % ($n, $jobs, $elapsed_ms / 1000, "$throughput"))
line("dead-lettered", "%d" % $dead)
line("Hub requests", "%d, by status %s" % (stats["totalRequests"], dict(sorted(stats["byStatus"].items()))))
line("Hub max req/s", "%d in any sliding second (limit %d: %s)" % (w, $limit_rps, ok(w, $limit_rps)))
line("Hub max in flight", "%d (limit %d: %s)" % (f, $limit_in_flight, ok(f, $limit_in_flight)))
line("Hub violations", "%d, 429s %d" % (stats["violations"]["total"], stats["byStatus"].get("429", 0)))
raised = [a for a in alerts["firing"] + alerts["pending"] + alerts["resolved"]
          if a["rule"] != "watchdog" and a["fingerprint"] not in before]
if raised:
    line("alerts raised", "%d:" % len(raised))
    for a in raised:
        node = a["labels"].get("node", "")
        print("    %-9s %-24s %s %s" % (a["state"], a["rule"], node, a["annotations"].get("summary", "")))
else:
    line("alerts raised", "none (the watchdog, always firing, aside)")
PY
echo
say "coordinator: $coordinator_url/api/cluster (nodes, rates, queue), $coordinator_url/api/alerts (alerts), $coordinator_url/metrics"
if [ -s "$token_file" ]; then
  say "dashboard: $coordinator_url/ (to pause, resume, change the limits or replay dead letters there, paste the token in $token_file)"
else
  say "dashboard: $coordinator_url/"
fi
say "Hub simulator: $hub_url/admin/stats"
if [ "$down_after" = 1 ]; then
  say "--down-after: stopping the cluster"
  "$0" down
else
  say "the cluster keeps running; stop it with: $stop_hint"
fi
