#!/usr/bin/env bash
# Throughput before and after a change, side by side in one run: builds the benchmark jars of BASE and HEAD (git
# refs; HEAD is the last commit, not the working tree) in temporary worktrees, then runs them alternately (BASE, HEAD, BASE, HEAD, ...) against one
# private redis-server, one run each per round, and prints per case the median jobs/s of each and their ratio.
# Usage: benchmarks/compare-throughput.sh BASE [jobs-per-run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
base=${1:?usage: benchmarks/compare-throughput.sh BASE [jobs-per-run] [rounds]}
jobs=${2:-100000}
rounds=${3:-3}
work=$(mktemp -d)
git worktree add -q --detach "$work/base" "$base"
git worktree add -q --detach "$work/head" HEAD
cleanup() {
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null
  git worktree remove --force "$work/base" 2>/dev/null || true
  git worktree remove --force "$work/head" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for v in base head; do
  (cd "$work/$v" && ./mvnw -B -ntp -q -Dmaven.test.skip=true -pl benchmarks -am package)
  cp "$work/$v/benchmarks/target/sluice-benchmarks.jar" "$work/$v.jar"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3)"
echo "# command: benchmarks/compare-throughput.sh $base $jobs $rounds (base $(git rev-parse --short "$base"), head $(git rev-parse --short HEAD))"
for r in $(seq 1 "$rounds"); do
  for v in base head; do
    redis-cli -p "$port" flushall >/dev/null
    "$JAVA_HOME/bin/java" -Xmx256m -jar "$work/$v.jar" "redis://127.0.0.1:$port" "$jobs" 1 | grep '^| [So]' \
      | sed "s/^/$v /" >>"$work/results.txt"
  done
done
python3 - "$work/results.txt" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(lambda: {"base": [], "head": []})
for line in open(sys.argv[1]):
    version, rest = line.split(" ", 1)
    cells = [c.strip() for c in rest.strip().strip("|").split("|")]
    runs[cells[0]][version].append(float(cells[1].replace(",", "")))
print("| case | base jobs/s (median) | head jobs/s (median) | head / base | base runs | head runs |")
print("|---|---|---|---|---|---|")
for case, v in runs.items():
    b, h = statistics.median(v["base"]), statistics.median(v["head"])
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    print(f"| {case} | {b:,.0f} | {h:,.0f} | {h / b:.2f} | {fmt(v['base'])} | {fmt(v['head'])} |")
PY
