#!/usr/bin/env bash
# Coordinator benchmark: ingest rate (heartbeats from 1,000 node ids through a real Kafka broker) and alert latency
# (a real worker process, a real fault, time to firing in GET /api/alerts). Starts its own redis-server (which it
# flushes); the Kafka broker runs inside the benchmark JVM. Prints Markdown; paste it into docs/benchmarks.md with
# the machine details.
# Usage: benchmarks/run-coordinator.sh [events-per-run] [ingest-runs] [latency-repetitions]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
events=${1:-100000}
runs=${2:-5}
reps=${3:-5}
./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3)"
echo "# command: benchmarks/run-coordinator.sh $events $runs $reps"
"$JAVA_HOME/bin/java" -Xmx1g -cp benchmarks/target/sluice-benchmarks.jar dev.sluice.bench.CoordinatorBenchmark \
  "redis://127.0.0.1:$port" "$events" "$runs" "$reps"
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
