#!/usr/bin/env bash
# Fleet limits benchmark: three worker node processes (their own JVMs, -Xmx256m, one Hazelcast cluster over
# loopback TCP) drain a backlog through the Hub simulator, which counts every arrival and does not refuse any
# (--no-enforce-limits), so an overrun shows as a violation instead of a 429 that would slow the fleet down.
# For each case: requests the Hub saw in the measured window (from 10 s after the nodes started), their share of the
# limit, and, from the first request on (* in the table: cold starts included), the most in any sliding second, the
# most in flight, violations and 429s; then the rate tokens the nodes gave up in the window because their requests
# would have left too late (the limiter's lateTokens). Then the limiter's acquire latencies on a member that owns none of the
# keys (LimiterLatencyBenchmark). Prints Markdown; paste it into docs/benchmarks.md with the machine details.
#
# Usage: benchmarks/run-fleet.sh [case ...]     a case is RPS:IN_FLIGHT:SECONDS:LATENCY_MS:JITTER_MS
#   default: 10:5:300:300:200 100:20:120:50:30 2000:100:120:20:10
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
java="$JAVA_HOME/bin/java"
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then cases=(10:5:300:300:200 100:20:120:50:30 2000:100:120:20:10); fi

./mvnw -B -ntp -q -DskipTests -pl worker-node,hub-simulator,benchmarks -am package
worker_jar=worker-node/target/sluice-worker.jar
hub_jar=hub-simulator/target/sluice-hub-simulator.jar
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

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
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
redis_url="redis://127.0.0.1:$redis_port"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# $("$java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# command: benchmarks/run-fleet.sh ${cases[*]}"
echo
echo "| limits (rps / in flight) | Hub latency | window | requests in it | share of the limit | max in a sliding 1 s* | max in flight* | violations* | 429* | tokens given up late |"
echo "|---|---|---|---|---|---|---|---|---|---|"

for c in "${cases[@]}"; do
  IFS=: read -r rps inflight secs latency jitter <<<"$c"
  redis-cli -p "$redis_port" flushall >/dev/null
  hub_port=$(free_port)
  "$java" -Xmx512m -XX:+ExitOnOutOfMemoryError -jar "$hub_jar" --port "$hub_port" --max-rps "$rps" --max-in-flight "$inflight" --no-enforce-limits \
    --latency-ms "$latency" --jitter-ms "$jitter" >"$dir/hub-$rps.log" 2>&1 &
  hub_pid=$!
  pids+=($hub_pid)
  until curl -sf "http://127.0.0.1:$hub_port/admin/stats" >/dev/null 2>&1; do sleep 0.2; done
  ports=($(free_port) $(free_port) $(free_port))
  members="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
  admins=()
  worker_pids=()
  concurrency=$(( inflight * 2 > 50 ? inflight * 2 : 50 ))
  for i in 0 1 2; do
    admin=$(free_port)
    admins+=("$admin")
    SLUICE_REDIS_URL=$redis_url SLUICE_HUB_BASE_URL="http://127.0.0.1:$hub_port" \
    SLUICE_HUB_MAX_REQUESTS_PER_SECOND=$rps SLUICE_HUB_MAX_CONCURRENT_CONNECTIONS=$inflight \
    SLUICE_NODE_ID="bench-$((i + 1))" SLUICE_NODE_CONCURRENCY=$concurrency SLUICE_KAFKA_ENABLED=false \
    SLUICE_CLUSTER_NAME="bench-$$-$rps" SLUICE_CLUSTER_MEMBERS=$members SLUICE_CLUSTER_PORT=${ports[$i]} \
    SLUICE_METRICS_PORT=$admin SLUICE_METRICS_BIND=127.0.0.1 \
      "$java" -Xmx256m -XX:+ExitOnOutOfMemoryError -jar "$worker_jar" worker >"$dir/worker-$rps-$i.log" 2>&1 &
    worker_pids+=($!)
    pids+=($!)
  done
  for a in "${admins[@]}"; do
    for _ in $(seq 1 600); do
      m=$(curl -sf "http://127.0.0.1:$a/api/status" 2>/dev/null | json 'd["cluster"]["members"]' 2>/dev/null || echo 0)
      [ "$m" = 3 ] && break
      sleep 0.2
    done
    [ "$m" = 3 ] || { echo "a node did not join the cluster of 3; logs in $dir" >&2; tail -50 "$dir"/worker-$rps-*.log >&2; exit 1; }
  done
  jobs=$(( rps * (secs + 30) * 11 / 10 + 500 ))
  SLUICE_REDIS_URL=$redis_url "$java" -Xmx256m -jar "$worker_jar" enqueue --range "1..$jobs" >/dev/null
  late_tokens() {
    local sum=0 a n
    for a in "${admins[@]}"; do
      n=$(curl -sf "http://127.0.0.1:$a/api/status" | json 'd["cluster"]["limits"]["lateTokens"]')
      sum=$((sum + n))
    done
    echo "$sum"
  }
  sleep 10 # the nodes start working; utilization is judged from here, the Hub's maxima from the first request
  late_before=$(late_tokens)
  first=$(curl -sf "http://127.0.0.1:$hub_port/admin/stats")
  sleep "$secs"
  stats=$(curl -sf "http://127.0.0.1:$hub_port/admin/stats")
  late=$(( $(late_tokens) - late_before ))
  # The window is between two snapshots, timed by the Hub's own clock (periodSeconds); the maxima are the whole run's.
  python3 -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rps, inflight, latency, jitter, late = (int(x) for x in sys.argv[3:8])
n, secs = b["totalRequests"] - a["totalRequests"], b["periodSeconds"] - a["periodSeconds"]
print("| %d / %d | %d ± %d ms | %.1f s | %d | %.1f%% | %d | %d | %d | %d | %d |" % (rps, inflight, latency, jitter, secs, n,
      100.0 * n / (rps * secs), b["maxWindowRequests"], b["maxInFlight"], b["violations"]["total"], b["byStatus"].get("429", 0), late))' \
    "$first" "$stats" "$rps" "$inflight" "$latency" "$jitter" "$late"
  # Every arrival over a limit, as the simulator logged it, with its own longest stall in the second before it.
  grep "over the Hub" "$dir/hub-$rps.log" | head -5 | sed 's/^/#   /' || true
  for p in "${worker_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${worker_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  kill "$hub_pid" 2>/dev/null || true
  wait "$hub_pid" 2>/dev/null || true
done

echo
echo "| acquire latency | median ms | p99 ms | max ms |"
echo "|---|---|---|---|"
[ -n "${SKIP_LATENCY:-}" ] || "$java" -Xmx512m -cp benchmarks/target/sluice-benchmarks.jar dev.sluice.bench.LimiterLatencyBenchmark 5000 2>"$dir/latency.log" | grep '^|\|^#'
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
