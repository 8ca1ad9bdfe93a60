#!/usr/bin/env bash
# Fleet limits benchmark: worker node processes (their own JVMs, -Xmx256m, one Hazelcast cluster over loopback TCP)
# drain a backlog through the Hub simulator, which counts every arrival and does not refuse any
# (--no-enforce-limits), so an overrun shows as a violation instead of a 429 that would slow the fleet down.
#
# Two kinds of case, each printed as a Markdown table row:
#   RPS:IN_FLIGHT:SECONDS:LATENCY_MS:JITTER_MS   three nodes at the limits. Requests the Hub saw in the measured window
#       (from 10 s after the nodes started), their share of the limit, and, from the first request on (* in the
#       table: cold starts included), the most in any sliding second, the most in flight, violations and 429s; the
#       rate tokens given up late (the limiter's lateTokens) and the limiter's store calls per 100 Hub calls in the
#       window; the CPU each process used in the window (% of one core: three workers, the simulator, Redis) and the
#       machine's idle share.
#   scale:LIMIT:SLOTS:LATENCY_MS:SECONDS          horizontal scaling: nodes capped by their own slots
#       (node.concurrency = SLOTS, a Hub answering in LATENCY_MS: about SLOTS / LATENCY per node), a fleet limit of
#       LIMIT/s, nodes added one at a time; each step is measured for SECONDS after 15 s of settling.
# Every arrival over a limit is listed under its row as the simulator logged it, with the simulator's own longest
# stall in the second before it.
#
# Usage: benchmarks/run-fleet.sh [case ...]
#   default: 10:5:120:300:200 100:20:120:50:30 2000:100:120:20:10 scale:1200:16:40:30
# Environment: SLUICE_WORKER_JAR (a worker jar to run instead of building this tree's, e.g. an older commit's, see
# benchmarks/compare-fleet.sh), SLUICE_BENCH_LABEL (a first column naming the code), SKIP_LATENCY=1 (no
# LimiterLatencyBenchmark at the end), SKIP_HEADER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
java="$JAVA_HOME/bin/java"
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then cases=(10:5:120:300:200 100:20:120:50:30 2000:100:120:20:10 scale:1200:16:40:30); fi
label=${SLUICE_BENCH_LABEL:-}

if [ -z "${SLUICE_WORKER_JAR:-}" ] || [ ! -f hub-simulator/target/sluice-hub-simulator.jar ]; then
  ./mvnw -B -ntp -q -DskipTests -pl worker-node,hub-simulator,benchmarks -am package
fi
worker_jar=${SLUICE_WORKER_JAR:-worker-node/target/sluice-worker.jar}
hub_jar=hub-simulator/target/sluice-hub-simulator.jar
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# CPU ticks (user + system) a process used so far, and the machine's idle and total ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_ticks() { awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
hz=$(getconf CLK_TCK)

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
redis_pid=$!
pids+=($redis_pid)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
redis_url="redis://127.0.0.1:$redis_port"

if [ -z "${SKIP_HEADER:-}" ]; then
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "# $("$java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
echo "# command: benchmarks/run-fleet.sh ${cases[*]} (worker jar: $worker_jar)"
echo

# start_hub RPS IN_FLIGHT LATENCY JITTER: sets hub_port, hub_pid
start_hub() {
  hub_port=$(free_port)
  "$java" -Xmx512m -XX:+ExitOnOutOfMemoryError -jar "$hub_jar" --port "$hub_port" --max-rps "$1" --max-in-flight "$2" \
    --no-enforce-limits --latency-ms "$3" --jitter-ms "$4" >"$dir/hub-$1.log" 2>&1 &
  hub_pid=$!
  pids+=($hub_pid)
  until curl -sf "http://127.0.0.1:$hub_port/admin/stats" >/dev/null 2>&1; do sleep 0.2; done
}

# start_node I RPS IN_FLIGHT CONCURRENCY: node I of the cluster on cluster_ports; appends to admins, worker_pids
start_node() {
  local i=$1 admin
  admin=$(free_port)
  admins+=("$admin")
  SLUICE_REDIS_URL=$redis_url SLUICE_HUB_BASE_URL="http://127.0.0.1:$hub_port" \
  SLUICE_HUB_MAX_REQUESTS_PER_SECOND=$2 SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS=$3 \
  SLUICE_NODE_ID="bench-$((i + 1))" SLUICE_NODE_CONCURRENCY=$4 SLUICE_KAFKA_ENABLED=false \
  SLUICE_CLUSTER_NAME="bench-$$-$2-$3" SLUICE_CLUSTER_MEMBERS=$members SLUICE_CLUSTER_PORT=${cluster_ports[$i]} \
  SLUICE_METRICS_PORT=$admin SLUICE_METRICS_BIND=127.0.0.1 \
    "$java" -Xmx256m -XX:+ExitOnOutOfMemoryError -jar "$worker_jar" worker >"$dir/worker-$2-$i.log" 2>&1 &
  worker_pids+=($!)
  pids+=($!)
}

# await_members N: every node started so far sees N members
await_members() {
  local a m
  for a in "${admins[@]}"; do
    for _ in $(seq 1 600); do
      m=$(curl -sf "http://127.0.0.1:$a/api/status" 2>/dev/null | json 'd["cluster"]["members"]' 2>/dev/null || echo 0)
      [ "$m" = "$1" ] && break
      sleep 0.2
    done
    [ "$m" = "$1" ] || { echo "a node did not join the cluster of $1; logs in $dir" >&2; tail -50 "$dir"/worker-*.log >&2; exit 1; }
  done
}

# limits_sum FIELD: the sum of cluster.limits.FIELD over the nodes ("n/a" when a node does not report it)
limits_sum() {
  local sum=0 a n
  for a in "${admins[@]}"; do
    n=$(curl -sf "http://127.0.0.1:$a/api/status" | json "d['cluster']['limits'].get('$1', 'n/a')")
    [ "$n" = "n/a" ] && { echo "n/a"; return; }
    sum=$((sum + n))
  done
  echo "$sum"
}

stop_fleet() {
  for p in "${worker_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${worker_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  kill "$hub_pid" 2>/dev/null || true
  wait "$hub_pid" 2>/dev/null || true
}

# measure SECONDS: snapshots before and after a window of SECONDS; prints the row's measured fields as
# "requests share% max_window max_in_flight violations 429 late calls_per_100 cpu idle%" (share of $limit)
measure() {
  local secs=$1 first stats late_before late calls_before calls ticks_before=() ticks_after=() m_before m_after p
  late_before=$(limits_sum lateTokens)
  expired_before=$(limits_sum expiredTokens)
  calls_before=$(limits_sum storeCalls); table_before=$(limits_sum tableCalls)
  for p in "${worker_pids[@]}" "$hub_pid" "$redis_pid"; do ticks_before+=("$(cpu_ticks "$p")"); done
  m_before=$(machine_ticks)
  first=$(curl -sf "http://127.0.0.1:$hub_port/admin/stats")
  sleep "$secs"
  stats=$(curl -sf "http://127.0.0.1:$hub_port/admin/stats")
  m_after=$(machine_ticks)
  for p in "${worker_pids[@]}" "$hub_pid" "$redis_pid"; do ticks_after+=("$(cpu_ticks "$p")"); done
  late=$(( $(limits_sum lateTokens) - late_before ))
  expired=$(limits_sum expiredTokens)
  [ "$expired" = "n/a" ] || [ "$expired_before" = "n/a" ] && expired=n/a || expired=$((expired - expired_before))
  calls=$(limits_sum storeCalls)
  [ "$table_before" = "n/a" ] || echo "#   permit-table calls in the window: $(( $(limits_sum tableCalls) - table_before )) of $(( calls - calls_before )) store calls" >&2
  echo "#   reservations of one token for a stale view of the limits, since start: $(limits_sum staleReservations)" >&2
  [ "$calls" = "n/a" ] || [ "$calls_before" = "n/a" ] && calls=n/a || calls=$((calls - calls_before))
  python3 -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
limit, late, calls, hz = int(sys.argv[3]), sys.argv[4].replace("/", " / "), sys.argv[5], int(sys.argv[6])
before, after = sys.argv[7].split(","), sys.argv[8].split(",")
mb, ma = [int(x) for x in sys.argv[9].split()], [int(x) for x in sys.argv[10].split()]
n, secs = b["totalRequests"] - a["totalRequests"], b["periodSeconds"] - a["periodSeconds"]
cpu = ["%.0f" % (100.0 * (int(y) - int(x)) / hz / secs) for x, y in zip(before, after)]
idle = 100.0 * (ma[0] - mb[0]) / max(1, ma[1] - mb[1])
per100 = "n/a" if calls == "n/a" else "%.1f" % (100.0 * int(calls) / max(1, n))
print("%.1f s | %d | %.1f%% | %d | %d | %d | %d | %s | %s | %s | %.0f%%" % (secs, n, 100.0 * n / (limit * secs),
      b["maxWindowRequests"], b["maxInFlight"], b["violations"]["total"], b["byStatus"].get("429", 0), late, per100,
      " / ".join(cpu), idle))' \
    "$first" "$stats" "$limit" "$late/$expired" "$calls" "$hz" "$(IFS=,; echo "${ticks_before[*]}")" \
    "$(IFS=,; echo "${ticks_after[*]}")" "$m_before" "$m_after"
}

over_limits() {
  grep "over the Hub" "$dir/hub-$1.log" | head -5 | sed 's/^/#   /' || true
}

printed_header=""
for c in "${cases[@]}"; do
  if [[ $c == scale:* ]]; then
    IFS=: read -r _ limit slots latency secs <<<"$c"
    echo
    echo "| ${label:+code | }nodes | limits (rps / in flight) | node slots, Hub latency | window | requests in it | per second | share of the limit | max in a sliding 1 s* | max in flight* | violations* | 429* | tokens given up late / expired ahead | store calls / 100 Hub calls | CPU % (workers / Hub / Redis) | machine idle |"
    echo "|${label:+---|}---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    redis-cli -p "$redis_port" flushall >/dev/null
    inflight=$(( slots * 3 * 2 ))
    start_hub "$limit" "$inflight" "$latency" 0
    cluster_ports=($(free_port) $(free_port) $(free_port))
    members="127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]},127.0.0.1:${cluster_ports[2]}"
    admins=()
    worker_pids=()
    jobs=$(( limit * (3 * (secs + 40)) + 5000 ))
    SLUICE_REDIS_URL=$redis_url "$java" -Xmx256m -jar "$worker_jar" enqueue --range "1..$jobs" >/dev/null
    for n in 1 2 3; do
      start_node $((n - 1)) "$limit" "$inflight" "$slots"
      await_members "$n"
      sleep 15 # the new node starts working and every node's quiet time after the join ends
      row=$(measure "$secs")
      window=${row%% s |*}
      requests=$(cut -d'|' -f2 <<<"$row" | xargs)
      per_second=$(python3 -c "print('%.0f' % ($requests / $window))")
      echo "| ${label:+$label | }$n | $limit / $inflight | $slots, $latency ms | ${row%%|*}| $requests | $per_second |$(cut -d'|' -f3- <<<"$row") |"
    done
    over_limits "$limit"
    stop_fleet
    continue
  fi
  if [ -z "$printed_header" ]; then
    echo "| ${label:+code | }limits (rps / in flight) | Hub latency | window | requests in it | share of the limit | max in a sliding 1 s* | max in flight* | violations* | 429* | tokens given up late / expired ahead | store calls / 100 Hub calls | CPU % (workers / Hub / Redis) | machine idle |"
    echo "|${label:+---|}---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printed_header=1
  fi
  IFS=: read -r rps inflight secs latency jitter <<<"$c"
  limit=$rps
  redis-cli -p "$redis_port" flushall >/dev/null
  start_hub "$rps" "$inflight" "$latency" "$jitter"
  cluster_ports=($(free_port) $(free_port) $(free_port))
  members="127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]},127.0.0.1:${cluster_ports[2]}"
  admins=()
  worker_pids=()
  concurrency=$(( inflight * 2 > 50 ? inflight * 2 : 50 ))
  for i in 0 1 2; do start_node "$i" "$rps" "$inflight" "$concurrency"; done
  await_members 3
  jobs=$(( rps * (secs + 30) * 11 / 10 + 500 ))
  SLUICE_REDIS_URL=$redis_url "$java" -Xmx256m -jar "$worker_jar" enqueue --range "1..$jobs" >/dev/null
  sleep 10 # the nodes start working; utilization is judged from here, the Hub's maxima from the first request
  echo "| ${label:+$label | }$rps / $inflight | $latency ± $jitter ms | $(measure "$secs") |"
  over_limits "$rps"
  stop_fleet
done

if [ -z "${SKIP_LATENCY:-}" ]; then
  echo
  echo "| acquire latency | median ms | p99 ms | max ms |"
  echo "|---|---|---|---|"
  "$java" -Xmx512m -cp benchmarks/target/sluice-benchmarks.jar dev.sluice.bench.LimiterLatencyBenchmark 5000 2>"$dir/latency.log" | grep '^|\|^#'
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
