#!/usr/bin/env bash
# The fleet limits benchmark before and after a change, side by side in one run: builds the worker jar of BASE (a git
# ref) in a temporary worktree and this tree's, then runs every case of benchmarks/run-fleet.sh with each, one after
# the other (BASE, then this tree), with the same Hub simulator (this tree's). Prints one Markdown table per kind of
# case, a first column naming the code.
# Usage: benchmarks/compare-fleet.sh BASE [case ...]   (cases as for run-fleet.sh; default: its default cases)
# Environment: ROUNDS (default 1): how many times every case runs with each, alternating (BASE, this tree, BASE, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
base=${1:?usage: benchmarks/compare-fleet.sh BASE [case ...]}
shift
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then cases=(10:5:120:300:200 100:20:120:50:30 2000:100:120:20:10 scale:1200:16:40:30); fi
work=$(mktemp -d)
git worktree add -q --detach "$work/base" "$base"
cleanup() {
  git worktree remove --force "$work/base" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work/base" && ./mvnw -B -ntp -q -Dmaven.test.skip=true -pl worker-node -am package)
cp "$work/base/worker-node/target/sluice-worker.jar" "$work/base.jar"
./mvnw -B -ntp -q -Dmaven.test.skip=true -pl worker-node,hub-simulator,benchmarks -am package
head=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo "+changes")
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3)"
echo "# command: ROUNDS=${ROUNDS:-1} benchmarks/compare-fleet.sh $base ${cases[*]} (base $(git rev-parse --short "$base"), head $head)"
for r in $(seq 1 "${ROUNDS:-1}"); do
for c in "${cases[@]}"; do
  SKIP_HEADER=1 SKIP_LATENCY=1 SLUICE_BENCH_LABEL="base $(git rev-parse --short "$base")" SLUICE_WORKER_JAR="$work/base.jar" \
    benchmarks/run-fleet.sh "$c"
  SKIP_HEADER=1 SKIP_LATENCY=1 SLUICE_BENCH_LABEL="head $head" SLUICE_WORKER_JAR=worker-node/target/sluice-worker.jar \
    benchmarks/run-fleet.sh "$c"
done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
