#!/usr/bin/env bash
# The compose smoke test on a real Docker engine, on a machine like the project's CI machine: Debian bookworm,
# root, no Docker engine running and NO container registry reachable (Maven Central and Debian's mirrors are).
#
#  1. installs Debian's docker.io, docker-compose, debootstrap and prometheus (for promtool) when missing;
#  2. starts dockerd when no engine answers (and stops it at the end; an engine it did not start is left alone);
#  3. builds the local stand-in images, skipping those that exist: sluice/base (debootstrap + docker import),
#     sluice/jre (jlink from the JDK here), sluice/redis (Debian's redis-server), sluice/kafka (Maven Central jars);
#  4. builds the project jars when missing (./mvnw -B -ntp -DskipTests package) and the project images
#     (FROM sluice/jre through the BASE_IMAGE build argument);
#  5. runs deploy/smoke-test.sh, which tears the cluster down (docker-compose down -v) pass or fail;
#  6. with `-- COMMAND...`, runs COMMAND while the engine is still up (with SLUICE_IMAGE_REDIS etc. exported, e.g.
#     to run tests through Testcontainers on the stand-in Redis image); its failure fails the script.
#
#   deploy/ci-docker.sh                          # as root
#   SLUICE_REBUILD_STANDINS=1 deploy/ci-docker.sh   # rebuild the base and JRE images too
#   SLUICE_CI_DOCKER_SMOKE=0 deploy/ci-docker.sh -- CMD ...   # engine and images only, then CMD (no smoke test)
#
# Fails (exit 1, saying why) when Docker cannot be installed or dockerd does not start: no stage is skipped silently.
# Leaves nothing running. Prints the time of each step and the total.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
after=()
if [ $# -gt 0 ]; then
  if [ "$1" != -- ] || [ $# -lt 2 ]; then
    echo "usage: $0 [-- COMMAND [ARG...]]" >&2
    exit 2
  fi
  shift
  after=("$@")
fi

export JAVA_HOME=${SLUICE_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH="$JAVA_HOME/bin:$PATH"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(now_ms)
timings=()
step_start=$t0
step() {
  local t
  t=$(now_ms)
  if [ -n "${step_name:-}" ]; then timings+=("$(printf '%-28s %6.1f s' "$step_name" "$(( t - step_start ))e-3")"); fi
  step_name=$1
  step_start=$t
  if [ -n "$1" ]; then echo "[ci-docker] === $1"; fi
}
report() {
  step ""
  echo "[ci-docker] timings:"
  printf '[ci-docker]   %s\n' "${timings[@]}"
  echo "[ci-docker] total $(( ($(now_ms) - t0) / 1000 )) s"
}

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

dockerd_pid=""
cleanup() {
  local status=$?
  if [ -n "$dockerd_pid" ]; then
    echo "[ci-docker] stopping the dockerd this script started (pid $dockerd_pid)"
    "${sudo_cmd[@]}" kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      "${sudo_cmd[@]}" kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 1
    done
  fi
  report
  if [ "$status" -eq 0 ]; then echo "[ci-docker] PASSED"; else echo "[ci-docker] FAILED (exit $status)"; fi
  exit "$status"
}
trap cleanup EXIT

# Runs a build quietly; on failure shows what it printed. (The legacy builder's deprecation notice is noise here.)
quietly() {
  local out
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    grep -v -i -E 'legacy builder is deprecated|buildx component|docs.docker.com/go/buildx|^ *$' "$out" >&2 || true
    rm -f "$out"
    echo "[ci-docker] failed: $*" >&2
    return 1
  fi
  rm -f "$out"
}

# --- 1. tools ------------------------------------------------------------------------------------------------
step "install docker.io etc."
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
lean=()
command -v promtool >/dev/null 2>&1 || lean+=(prometheus)   # for promtool only: no recommends (node exporter ...)
if [ $(( ${#missing[@]} + ${#lean[@]} )) -gt 0 ]; then
  echo "[ci-docker] installing ${missing[*]} ${lean[*]} from Debian"
  "${sudo_cmd[@]}" apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#lean[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi

# --- 2. engine -----------------------------------------------------------------------------------------------
step "start dockerd"
if ! docker info >/dev/null 2>&1; then
  log=${SLUICE_DOCKERD_LOG:-/tmp/sluice-dockerd.log}
  echo "[ci-docker] no Docker engine answers: starting dockerd (log $log)"
  "${sudo_cmd[@]}" setsid dockerd >"$log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      tail -20 "$log" >&2
      echo "[ci-docker] dockerd exited; see $log" >&2
      dockerd_pid=""
      exit 1
    fi
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 "$log" >&2; echo "[ci-docker] dockerd did not answer within 60 s" >&2; exit 1; }
fi
echo "[ci-docker] engine $(docker version -f '{{.Server.Version}}' 2>/dev/null), compose $(docker-compose version --short 2>/dev/null || docker compose version --short)"

# --- 3. stand-in images --------------------------------------------------------------------------------------
force=()
if [ "${SLUICE_REBUILD_STANDINS:-0}" = 1 ]; then force=(--force); fi
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' pom.xml | head -1)
jre_feature=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
export SLUICE_IMAGE_BASE=sluice/base:bookworm
export SLUICE_IMAGE_JRE=sluice/jre:$jre_feature
export SLUICE_IMAGE_REDIS=sluice/redis:bookworm
export SLUICE_IMAGE_KAFKA=sluice/kafka:$kafka_version

step "base image (debootstrap)"
deploy/images/base/build.sh "${force[@]}" "$SLUICE_IMAGE_BASE"
step "JRE image (jlink)"
deploy/images/jre/build.sh "${force[@]}" "$SLUICE_IMAGE_JRE"
# These two are cheap to rebuild when their inputs have not changed (the engine's layer cache), so they are
# always built: a changed Dockerfile or jar list is picked up.
step "Redis image"
quietly docker build --build-arg BASE_IMAGE="$SLUICE_IMAGE_BASE" -t "$SLUICE_IMAGE_REDIS" deploy/images/redis
step "Kafka image"
if [ ! -d deploy/images/kafka/target/libs ] || [ deploy/images/kafka/pom.xml -nt deploy/images/kafka/target/libs ]; then
  rm -rf deploy/images/kafka/target/libs
  quietly ./mvnw -B -ntp -f deploy/images/kafka/pom.xml dependency:copy-dependencies
fi
quietly docker build --build-arg BASE_IMAGE="$SLUICE_IMAGE_JRE" -t "$SLUICE_IMAGE_KAFKA" deploy/images/kafka

# --- 4. project jars and images ------------------------------------------------------------------------------
step "project jars"
if [ ! -f worker-node/target/sluice-worker.jar ] || [ ! -f hub-simulator/target/sluice-hub-simulator.jar ] \
  || [ ! -f coordinator/target/sluice-coordinator.jar ]; then
  quietly ./mvnw -B -ntp -DskipTests package
else
  echo "[ci-docker] jars present; not rebuilding (delete them or run ./mvnw package to refresh)"
fi
step "project images"
build_services=(hub worker-node coordinator)
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
quietly "${compose[@]}" -p sluice-smoke build "${build_services[@]}"
echo "[ci-docker] built ${build_services[*]} FROM $SLUICE_IMAGE_JRE"

# --- 5. smoke test -------------------------------------------------------------------------------------------
if [ "${SLUICE_CI_DOCKER_SMOKE:-1}" = 0 ]; then
  echo "[ci-docker] SLUICE_CI_DOCKER_SMOKE=0: no smoke test"
else
  step "smoke test"
  "$root/deploy/smoke-test.sh"
fi

# --- 6. a command with the engine up ---------------------------------------------------------------------------
if [ ${#after[@]} -gt 0 ]; then
  step "${after[*]:0:3} ..."
  echo "[ci-docker] running with the engine up: ${after[*]}"
  "${after[@]}"
fi
