#!/usr/bin/env bash
# Throughput benchmark: one node, no-op handler, Redis on this machine, the node at -Xmx256m, side by side with
# the design Sluice replaces. Prints a Markdown table; paste it into docs/benchmarks.md with the machine details.
# Usage: benchmarks/run-throughput.sh [jobs-per-run] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jobs=${1:-100000}
runs=${2:-3}
./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3)"
echo "# command: benchmarks/run-throughput.sh $jobs $runs"
"$JAVA_HOME/bin/java" -Xmx256m -jar benchmarks/target/sluice-benchmarks.jar "redis://127.0.0.1:$port" "$jobs" "$runs"
