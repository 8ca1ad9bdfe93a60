#!/usr/bin/env bash
# Compose smoke test: brings the cluster of docker-compose.yml up with 3 worker nodes and checks, in order:
#  0. closed by default: the published ports (coordinator, Hub simulator) bind to SLUICE_PUBLISH_ADDR (127.0.0.1),
#     Redis, Kafka and the workers publish none; Redis refuses a client without the password (REDIS_PASSWORD, a
#     random one for this run unless set) and the workers, which have it in their URL, do not show it in /api/status;
#  1. the 3 workers form ONE Hazelcast cluster of 3 members (each node's /api/status);
#  2. a backfill (2,000 jobs by default) drains: every job done, nothing dead-lettered, pending or delayed, every
#     node did some; the Hub simulator saw nothing beyond its limits (max requests in any sliding second, max in
#     flight, violations, 429s), the workers being given the Hub's own limits, kept fleet-wide;
#  3. `promtool check metrics` passes on every worker's /metrics and on the coordinator's, and `promtool check
#     config` on deploy/prometheus/prometheus.yml;
#  4. the coordinator's /api/cluster lists the 3 nodes, alive;
#  5. a Hub outage (the simulator's /admin/outage) opens the workers' breakers: the breaker_not_closed alert fires
#     in the coordinator's /api/alerts, and resolves once the outage ends; the jobs sent during it are all done;
#  6. `--scale worker-node=4`: a fourth node joins the Hazelcast cluster (4 members everywhere), the coordinator
#     lists 4 nodes, and the new node does some of a second backfill, still within the Hub's limits;
#  7. every worker stops gracefully on SIGTERM (drains and exits by itself within the grace period).
# Then it tears everything down (`down -v`), pass or fail.
#
# Needs a Docker engine, a compose tool (v2 `docker compose` or Debian's v1 `docker-compose`), python3 and
# promtool (Debian's prometheus package) on the host; the images are built by `compose up` when missing
# (deploy/ci-docker.sh builds them first, from local stand-ins where no registry is reachable). Talks to the
# services only through `docker exec`, so no host port is needed. Test-only settings (short breaker open time, short
# for-duration of the breaker alert) are in deploy/smoke-test.compose.yml.
#
#   deploy/smoke-test.sh
#   SLUICE_SMOKE_JOBS=5000 SLUICE_SMOKE_KEEP=1 deploy/smoke-test.sh     # keep the cluster up afterwards
#
# Variables: SLUICE_COMPOSE (compose command), SLUICE_SMOKE_PROJECT (compose project, sluice-smoke),
# SLUICE_SMOKE_JOBS (first backfill, 2000), SLUICE_SMOKE_SCALE_JOBS (second backfill, after the scale-out, 500),
# SLUICE_SMOKE_TIMEOUT_SECS (drain timeout, 180), SLUICE_SMOKE_KEEP (1: no teardown), SLUICE_SMOKE_PROMTOOL (skip:
# no promtool checks), those of deploy/smoke-test.compose.yml (SLUICE_SMOKE_BREAKER_*) and those of
# docker-compose.yml (SLUICE_IMAGE_*, SLUICE_HUBSIM_*, SLUICE_FLEET_*, SLUICE_PUBLISH_*, REDIS_PASSWORD).
set -euo pipefail
cd "$(dirname "$0")/.."

project=${SLUICE_SMOKE_PROJECT:-sluice-smoke}
jobs=${SLUICE_SMOKE_JOBS:-2000}
scale_jobs=${SLUICE_SMOKE_SCALE_JOBS:-500}
outage_jobs=300
drain_timeout=${SLUICE_SMOKE_TIMEOUT_SECS:-180}
workers=3
config=/etc/sluice/production.toml

# The Hub's own limits, high enough for the backfill to take seconds.
export SLUICE_HUBSIM_MAX_RPS=${SLUICE_HUBSIM_MAX_RPS:-200}
export SLUICE_HUBSIM_MAX_IN_FLIGHT=${SLUICE_HUBSIM_MAX_IN_FLIGHT:-20}
export SLUICE_HUBSIM_LATENCY_MS=${SLUICE_HUBSIM_LATENCY_MS:-20}
export SLUICE_HUBSIM_JITTER_MS=${SLUICE_HUBSIM_JITTER_MS:-10}
# The workers' [hub] limits (docker-compose.yml maps SLUICE_FLEET_* onto SLUICE_HUB_MAX_REQUESTS_PER_SECOND and
# SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS): the Hub's own. Every node enforces them for the whole fleet through the
# workers' Hazelcast cluster, so 3 (and then 4) nodes together must stay within them.
export SLUICE_FLEET_MAX_RPS=$SLUICE_HUBSIM_MAX_RPS
export SLUICE_FLEET_MAX_IN_FLIGHT=$SLUICE_HUBSIM_MAX_IN_FLIGHT
export SLUICE_NODE_CONCURRENCY=${SLUICE_NODE_CONCURRENCY:-100}

# Debian's python3 when there is one: a version manager's shim (pyenv) can take seconds to start.
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi

# A password of this run's own, so that the test shows REDIS_PASSWORD reaching Redis and the workers (and not
# docker-compose.yml's placeholder being used on both sides).
REDIS_PASSWORD=${REDIS_PASSWORD:-smoke-$("$py" -c 'import secrets; print(secrets.token_hex(12))')}
export REDIS_PASSWORD
publish_addr=${SLUICE_PUBLISH_ADDR:-127.0.0.1}

if [ -n "${SLUICE_COMPOSE:-}" ]; then
  read -r -a compose_cmd <<<"$SLUICE_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  compose_cmd=(docker-compose)
fi
compose() { "${compose_cmd[@]}" -p "$project" -f docker-compose.yml -f deploy/smoke-test.compose.yml "$@"; }

services=(redis kafka hub worker-node coordinator)
[ -f coordinator/target/sluice-coordinator.jar ] || {
  echo "[smoke] coordinator/target/sluice-coordinator.jar is missing: build the jars first (./mvnw -B -ntp -DskipTests package)" >&2
  exit 1
}
check_promtool=1
if [ "${SLUICE_SMOKE_PROMTOOL:-}" = skip ]; then
  check_promtool=0
elif ! command -v promtool >/dev/null 2>&1; then
  echo "[smoke] promtool is not on PATH (Debian: apt-get install --no-install-recommends prometheus);" \
    "SLUICE_SMOKE_PROMTOOL=skip runs without the metrics checks" >&2
  exit 1
fi
# A free host port for the coordinator, so a busy 8090 does not fail the test.
SLUICE_PUBLISH_COORDINATOR=${SLUICE_PUBLISH_COORDINATOR:-$("$py" -c \
  'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export SLUICE_PUBLISH_COORDINATOR

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }
t_start=$(now_ms)
log() { echo "[smoke $(elapsed "$t_start")s] $*"; }
fail() {
  echo "[smoke] FAILED: $*" >&2
  exit 1
}

teardown() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "[smoke] --- compose ps ---" >&2
    compose ps >&2 || true
    echo "[smoke] --- last log lines ---" >&2
    compose logs --no-color --tail=40 >&2 || true
  fi
  if [ "${SLUICE_SMOKE_KEEP:-0}" = 1 ]; then
    echo "[smoke] SLUICE_SMOKE_KEEP=1: leaving project $project up (${compose_cmd[*]} -p $project down -v)"
  else
    compose down -v --remove-orphans >/dev/null 2>&1 || compose down -v || true
    log "torn down"
  fi
  exit "$status"
}
trap teardown EXIT

# --- helpers -------------------------------------------------------------------------------------------------
# Containers by the labels both compose versions set (much faster than `compose ps`, a Python start in v1).
containers() {
  docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" \
    ${1:+--filter "label=com.docker.compose.service=$1"} | sort
}
container() { containers "$1" | head -1; }

# HTTP inside a container (bash's /dev/tcp; both the public and the stand-in images have bash): prints the body,
# fails unless the status is 2xx. No host port, no curl in the images needed.
http() {
  local c=$1 method=$2 port=$3 path=$4
  docker exec "$c" bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7
    printf "%s %s HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n" "$2" "$3" >&3
    cat <&3' _ "$port" "$method" "$path" |
    "$py" -c '
import sys
raw = sys.stdin.buffer.read()
head, _, body = raw.partition(b"\r\n\r\n")
status = head.split(b" ", 2)[1].decode() if b" " in head else "?"
sys.stdout.write(body.decode("utf-8", "replace"))
sys.exit(0 if status.startswith("2") else 1)'
}

# Evaluates a Python expression over the JSON document on stdin (bound to d).
json() { "$py" -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print(v)' "$1"; }

# until_true SECS WHAT COMMAND...: polls COMMAND (every second) until it succeeds; fails the test after SECS.
until_true() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && fail "$what: not within $secs s"
    sleep 1
  done
}

redis() { docker exec "$redis_c" redis-cli "$@"; }
result_count() { redis --raw eval "return #redis.call('keys', ARGV[1])" 0 'sluice:result:hub-fetch:*'; }

wait_healthy() {
  local deadline=$(( $(date +%s) + $1 )) ids states bad
  while :; do
    ids=$(containers)
    if [ -z "$ids" ]; then
      [ "$(date +%s)" -ge "$deadline" ] && fail "no containers are running"
      sleep 1
      continue
    fi
    states=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids)
    bad=$(awk '$2 != "healthy"' <<<"$states")
    [ -z "$bad" ] && return 0
    if grep -q -E ' (unhealthy|exited|dead)$' <<<"$bad" || [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$states" >&2
      fail "not every container became healthy"
    fi
    sleep 1
  done
}

# drain EXPECTED_RESULTS: waits until that many results are stored (or jobs dead-lettered); sets done_count, dead.
drain() {
  local expected=$1 deadline last=-1
  deadline=$(( $(date +%s) + drain_timeout ))
  while :; do
    done_count=$(result_count)
    dead=$(redis xlen sluice:dead)
    if [ "$done_count" != "$last" ]; then
      log "done $done_count / $expected, dead-lettered $dead"
      last=$done_count
    fi
    [ $(( done_count + dead )) -ge "$expected" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && fail "did not drain within $drain_timeout s ($done_count of $expected done, $dead dead)"
    sleep 1
  done
  [ "$done_count" -eq "$expected" ] || fail "$done_count of $expected jobs done"
  [ "$dead" -eq 0 ] || fail "$dead jobs dead-lettered: $(redis xrange sluice:dead - + COUNT 3)"
  # Acknowledgements are batched: give the last ones a moment before calling anything left pending.
  local pending delayed
  for _ in $(seq 1 10); do
    pending=$(redis xpending sluice:jobs sluice | head -1)
    delayed=$(redis zcard sluice:delayed)
    [ "$pending" -eq 0 ] && [ "$delayed" -eq 0 ] && break
    sleep 0.5
  done
  [ "$pending" -eq 0 ] || fail "$pending jobs still pending after the drain"
  [ "$delayed" -eq 0 ] || fail "$delayed jobs still waiting for a retry after the drain"
}

# The Hub simulator's figures since the reset must be within its limits. Sets the hub_* variables.
check_hub() {
  local stats
  stats=$(http "$hub" GET 8080 /admin/stats)
  hub_violations=$(json 'd["violations"]["total"]' <<<"$stats")
  hub_max_window=$(json 'd["maxWindowRequests"]' <<<"$stats")
  hub_max_in_flight=$(json 'd["maxInFlight"]' <<<"$stats")
  hub_429=$(json 'd["byStatus"].get("429", 0)' <<<"$stats")
  hub_requests=$(json 'd["totalRequests"]' <<<"$stats")
  hub_by_status=$(json 'd["byStatus"]' <<<"$stats")
  log "Hub simulator ($1): $hub_requests requests $hub_by_status; max $hub_max_window in a sliding second" \
    "(limit $SLUICE_HUBSIM_MAX_RPS), max $hub_max_in_flight in flight (limit $SLUICE_HUBSIM_MAX_IN_FLIGHT)," \
    "$hub_violations violations, $hub_429 answered 429"
  [ "$hub_violations" -eq 0 ] || fail "the Hub saw $hub_violations requests beyond its limits ($1): $stats"
  [ "$hub_max_window" -le "$SLUICE_HUBSIM_MAX_RPS" ] || fail "the Hub saw $hub_max_window requests in one second (limit $SLUICE_HUBSIM_MAX_RPS) ($1)"
  [ "$hub_max_in_flight" -le "$SLUICE_HUBSIM_MAX_IN_FLIGHT" ] || fail "the Hub saw $hub_max_in_flight requests in flight (limit $SLUICE_HUBSIM_MAX_IN_FLIGHT) ($1)"
  [ "$hub_429" -eq 0 ] || fail "the Hub answered $hub_429 requests with 429 ($1)"
}

# Jobs a worker container did, from its /metrics.
node_done() {
  http "$1" GET 8081 /metrics | "$py" -c '
import re, sys
print(int(sum(float(m.group(1)) for m in re.finditer(r"^sluice_jobs_total\{[^}]*outcome=\"done\"[^}]*\} (\S+)$", sys.stdin.read(), re.M))))'
}

# The node ids of the running workers (node_ids, plus the scaled-out one), sorted as Java and Python sort them.
expected_ids() { printf '%s\n' "${node_ids[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

# cluster_is N: every running worker sees a Hazelcast cluster of N members, exactly the expected nodes, and holds the
# majority. One request per worker: each `docker exec` costs up to a second on a loaded machine.
cluster_is() {
  local n=$1 c view expected
  expected=$(expected_ids)
  [ "$(wc -w <<<"$expected")" -eq "$n" ] || return 1
  for c in $(containers worker-node); do
    view=$(http "$c" GET 8081 /api/status | json '"%d %s %s" % (d["cluster"]["members"], d["cluster"]["majority"], " ".join(d["cluster"]["nodes"]))' 2>/dev/null) || return 1
    [ "$view" = "$n True $expected" ] || return 1
  done
}

# coordinator_lists N: /api/cluster lists exactly the expected nodes, all alive.
coordinator_lists() {
  local n=$1 listed
  listed=$(http "$coordinator" GET 8090 /api/cluster |
    json '"%d %s" % (d["nodesAlive"], " ".join(sorted(n["id"] for n in d["nodes"] if n["alive"])))' 2>/dev/null) || return 1
  [ "$listed" = "$n $(expected_ids)" ]
}

# alert_rules STATE: the rules of the coordinator's alerts in that state (firing, pending, resolved), one per line.
alert_rules() { http "$coordinator" GET 8090 /api/alerts | json "'\n'.join(a['rule'] for a in d['$1'])"; }
breaker_alert() { alert_rules "$1" | grep -q -x breaker_not_closed; }
breaker_alert_gone() { ! alert_rules firing | grep -q -x breaker_not_closed && ! alert_rules pending | grep -q -x breaker_not_closed; }

# --- up ------------------------------------------------------------------------------------------------------
log "compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?')), project $project"
if [ -n "$(containers)$(docker volume ls -q --filter "label=com.docker.compose.project=$project")" ]; then
  log "removing what an earlier run of project $project left"
  compose down -v --remove-orphans >/dev/null 2>&1 || true
fi
log "up: ${services[*]} with $workers worker nodes; Hub limits $SLUICE_HUBSIM_MAX_RPS req/s, $SLUICE_HUBSIM_MAX_IN_FLIGHT" \
  "in flight, the same for the workers fleet-wide"
compose up -d --scale worker-node=$workers "${services[@]}"
wait_healthy 240
t_up=$(now_ms)
log "all healthy: $(containers | wc -l) containers in $(elapsed "$t_start") s"
redis_c=$(container redis)
hub=$(container hub)
coordinator=$(container coordinator)

mapfile -t worker_ids < <(containers worker-node)
[ "${#worker_ids[@]}" -eq "$workers" ] || fail "expected $workers worker containers, found ${#worker_ids[@]}"
node_ids=()
for c in "${worker_ids[@]}"; do
  node_ids+=("$(http "$c" GET 8081 /api/status | json 'd["nodeId"]')")
done
distinct=$(printf '%s\n' "${node_ids[@]}" | sort -u | wc -l)
[ "$distinct" -eq "$workers" ] || fail "node ids are not distinct: ${node_ids[*]}"
log "worker nodes: ${node_ids[*]}"

# --- 0. closed by default ------------------------------------------------------------------------------------
# `docker port` lists a container's published ports as ADDRESS:PORT, one a line.
published_on() { docker port "$1" 2>/dev/null | sed -n 's/^.* -> //p' | sed 's/:[0-9]*$//' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
for c in "$coordinator" "$hub"; do
  addrs=$(published_on "$c")
  [ "$addrs" = "$publish_addr" ] || fail "container ${c:0:12} publishes on '$addrs', expected only $publish_addr"
done
for c in "$redis_c" $(container kafka) "${worker_ids[@]}"; do
  [ -z "$(docker port "$c" 2>/dev/null)" ] || fail "container ${c:0:12} publishes a port: $(docker port "$c" | tr '\n' ';')"
done
noauth=$(docker exec "$redis_c" env -u REDISCLI_AUTH redis-cli ping 2>&1 || true)
grep -q NOAUTH <<<"$noauth" || fail "Redis answered a client without the password: $noauth"
status_json=$(http "${worker_ids[0]}" GET 8081 /api/status)
! grep -q -F -- "$REDIS_PASSWORD" <<<"$status_json" || fail "a worker's /api/status shows the Redis password"
shown_url=$(json 'd["config"]["redis"]["url"]' <<<"$status_json")
[ "$shown_url" = "redis://:***@redis:6379" ] || fail "a worker's /api/status shows its Redis URL as '$shown_url'"
log "closed by default: coordinator and Hub simulator published on $publish_addr only, Redis, Kafka and the workers" \
  "not at all; Redis refuses a client without the password ($noauth); /api/status shows $shown_url"

# --- 1. one Hazelcast cluster --------------------------------------------------------------------------------
# Replicas starting together can first form separate clusters, which merge within seconds
# (hazelcast.merge.first.run.delay.seconds 10).
t=$(now_ms)
until_true 60 "one Hazelcast cluster of $workers members seen by every worker" cluster_is $workers
log "one Hazelcast cluster of $workers members, every node holds the majority (after $(elapsed "$t") s)"

http "$hub" POST 8080 /admin/reset >/dev/null || fail "could not reset the Hub simulator's stats"

# --- 2. backfill ---------------------------------------------------------------------------------------------
log "enqueue $jobs jobs"
docker exec "${worker_ids[0]}" sluice enqueue --config "$config" --range "1..$jobs" --batch smoke-first
t_enqueued=$(now_ms)
drain "$jobs"
drain_secs=$(elapsed "$t_enqueued")
log "drained in $drain_secs s"
check_hub "first backfill, $workers nodes"
first_max_window=$hub_max_window first_max_in_flight=$hub_max_in_flight
distinct_keys=$(http "$hub" GET 8080 /admin/stats | json 'd["distinctKeys"]')
[ "$distinct_keys" -ge "$jobs" ] || fail "the Hub answered $distinct_keys distinct keys, expected $jobs"
# Every node took part.
for c in "${worker_ids[@]}"; do
  n=$(node_done "$c")
  [ "$n" -gt 0 ] || fail "worker container ${c:0:12} did no job"
  log "node in container ${c:0:12}: $n jobs done"
done

# --- 3. Prometheus files and metrics -------------------------------------------------------------------------
# `promtool check metrics` lints the exposition too (help texts, unit suffixes, counter names): any finding fails.
promtool_check() {
  local what=$1 c=$2 port=$3 lint
  if ! lint=$(http "$c" GET "$port" /metrics | promtool check metrics 2>&1); then
    fail "promtool check metrics on the $what's /metrics: $(tr '\n' ';' <<<"$lint")"
  fi
}
if [ "$check_promtool" = 1 ]; then
  promtool check config deploy/prometheus/prometheus.yml >/dev/null || fail "deploy/prometheus/prometheus.yml is not valid"
  for c in "${worker_ids[@]}"; do promtool_check "worker ${c:0:12}" "$c" 8081; done
  promtool_check coordinator "$coordinator" 8090
  log "promtool check metrics passes on the $workers workers' and the coordinator's /metrics"
else
  log "SLUICE_SMOKE_PROMTOOL=skip: no promtool checks"
fi

# --- 4. the coordinator sees the 3 nodes ---------------------------------------------------------------------
until_true 30 "/api/cluster on the coordinator listing the $workers nodes alive" coordinator_lists $workers
log "coordinator /api/cluster: $workers nodes alive, the same ids as the workers report; ingest" \
  "$(http "$coordinator" GET 8090 /api/cluster | json 'd["ingest"]')"
# The dashboard: the page, and its snapshot with the fleet's limits read from Redis (the coordinator's [redis]).
page=$(http "$coordinator" GET 8090 /) || fail "the coordinator's dashboard page at / did not answer 200"
[[ $page == *'<script src="/dashboard.js"'* ]] || fail "the coordinator's page at / is not the dashboard"
dashboard_limits() {
  http "$coordinator" GET 8090 /api/dashboard | json '"%s %s" % (d["fleet"]["limits"]["maxRequestsPerSecond"], d["cluster"]["nodesAlive"])'
}
until_true 15 "the dashboard snapshot with the fleet's limits from Redis" dashboard_limits
log "coordinator dashboard: limits and nodes alive $(dashboard_limits)"
# The first backfill, counted by the nodes' queue scripts and read by the coordinator's [queue] and [redis].
dashboard_backfill() {
  http "$coordinator" GET 8090 /api/dashboard |
    json '" ".join("%s %s %d %d" % (b["id"], b["finished"], b["done"], b["total"]) for b in d["backfills"] if b["id"] == "smoke-first")'
}
until_true 15 "the dashboard showing backfill smoke-first done, $jobs of $jobs" \
  eval '[ "$(dashboard_backfill)" = "smoke-first True '"$jobs $jobs"'" ]'
log "coordinator dashboard: backfill $(dashboard_backfill)"

# --- 5. Hub outage: the breaker alert fires and resolves ------------------------------------------------------
t_outage=$(now_ms)
http "$hub" POST 8080 '/admin/outage?on=true&status=503' >/dev/null || fail "could not start an outage of the Hub simulator"
log "Hub outage on (503); enqueue $outage_jobs jobs to keep the breakers busy"
docker exec "${worker_ids[0]}" sluice enqueue --config "$config" --range "100001..$(( 100000 + outage_jobs ))" >/dev/null
until_true 60 "breaker_not_closed firing in the coordinator's /api/alerts" breaker_alert firing
log "breaker_not_closed firing $(elapsed "$t_outage") s after the outage began"
t_end=$(now_ms)
http "$hub" POST 8080 '/admin/outage?on=false' >/dev/null || fail "could not end the outage"
until_true 90 "breaker_not_closed resolved after the outage" eval 'breaker_alert resolved && breaker_alert_gone'
log "breaker_not_closed resolved $(elapsed "$t_end") s after the outage ended"
drain $(( jobs + outage_jobs ))
log "the $outage_jobs jobs sent during the outage are done, none dead-lettered"
outage_503=$(http "$hub" GET 8080 /admin/stats | json 'd["byStatus"].get("503", 0)')
check_hub "after the outage ($outage_503 answered 503 during it)"

# --- 6. scale out to 4 ---------------------------------------------------------------------------------------
t=$(now_ms)
compose up -d --no-recreate --scale worker-node=$(( workers + 1 )) "${services[@]}"
wait_healthy 120
mapfile -t all_workers < <(containers worker-node)
[ "${#all_workers[@]}" -eq $(( workers + 1 )) ] || fail "expected $(( workers + 1 )) worker containers, found ${#all_workers[@]}"
new_c=""
for c in "${all_workers[@]}"; do
  printf '%s\n' "${worker_ids[@]}" | grep -q -x "$c" || new_c=$c
done
[ -n "$new_c" ] || fail "no new worker container after the scale-out"
new_id=$(http "$new_c" GET 8081 /api/status | json 'd["nodeId"]')
node_ids+=("$new_id")
# What each node sees when the new one is ready: a new node that did not find the cluster at once runs alone, with
# the whole fleet's limits, until Hazelcast merges it in (hazelcast.merge.first.run.delay.seconds 10).
views=$(for c in $(containers worker-node); do http "$c" GET 8081 /api/status | json '"%s sees %d" % (d["nodeId"], d["cluster"]["members"])'; done | tr '\n' ';')
log "node $new_id ready $(elapsed "$t") s after the scale-out; cluster views: $views"
until_true 60 "one Hazelcast cluster of $(( workers + 1 )) members seen by every worker" cluster_is $(( workers + 1 ))
log "node $new_id joined: one Hazelcast cluster of $(( workers + 1 )) members ($(elapsed "$t") s after the scale-out)"
until_true 30 "/api/cluster listing $(( workers + 1 )) nodes alive" coordinator_lists $(( workers + 1 ))
log "coordinator /api/cluster: $(( workers + 1 )) nodes alive"
log "enqueue $scale_jobs more jobs"
docker exec "${worker_ids[0]}" sluice enqueue --config "$config" --range "200001..$(( 200000 + scale_jobs ))" >/dev/null
drain $(( jobs + outage_jobs + scale_jobs ))
new_done=$(node_done "$new_c")
[ "$new_done" -gt 0 ] || fail "the new node $new_id did no job of the second backfill"
log "the new node $new_id did $new_done of the $scale_jobs jobs"
check_hub "whole run, up to $(( workers + 1 )) nodes"

# --- 7. graceful stop ----------------------------------------------------------------------------------------
# SIGTERM drains a node (node.drain_timeout_secs, 20 s) well within stop_grace_period (30 s): every worker must
# exit by itself (143 = 128 + SIGTERM), never be killed by the engine (137).
t_stop=$(now_ms)
compose stop worker-node >/dev/null 2>&1
for c in "${all_workers[@]}"; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  { [ "$code" -eq 143 ] || [ "$code" -eq 0 ]; } || fail "worker container ${c:0:12} exited with $code on SIGTERM (137: killed after the grace period)"
done
log "workers stopped gracefully in $(elapsed "$t_stop") s"

log "PASSED: $jobs jobs done by $workers nodes in $drain_secs s, 0 dead-lettered (Hub: max $first_max_window req in a" \
  "sliding second, max $first_max_in_flight in flight); outage: breaker alert fired and resolved, $outage_jobs jobs" \
  "done; scale-out: node 4 joined and did $new_done of $scale_jobs jobs. Whole run at the Hub (limits" \
  "$SLUICE_HUBSIM_MAX_RPS req/s, $SLUICE_HUBSIM_MAX_IN_FLIGHT in flight): max $hub_max_window req/s, max" \
  "$hub_max_in_flight in flight, $hub_violations violations, $hub_429 answered 429. Cluster up in" \
  "$(( (t_up - t_start) / 1000 )) s"
