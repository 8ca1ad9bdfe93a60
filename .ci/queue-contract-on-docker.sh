#!/usr/bin/env bash
# The queue contract suite (worker-node's JobQueueContract: StreamJobQueueTest and ListJobQueueTest) once with
# SLUICE_TEST_REDIS=container: every test class gets its Redis from Testcontainers on the Docker engine, so the
# testkit's container path runs for real. Needs a Docker engine that answers and a Redis image present locally
# (SLUICE_TEST_REDIS_IMAGE; deploy/ci-docker.sh exports SLUICE_IMAGE_REDIS, its stand-in sluice/redis:bookworm,
# where no registry is reachable). Ryuk (Testcontainers' reaper, an image from a registry) is disabled: the
# testkit removes its containers itself.
#
# Without an engine the testkit ABORTS these tests (JUnit counts them as skipped), which would look green: so this
# script reads surefire's reports and fails unless tests ran and none was skipped.
#
#   deploy/ci-docker.sh -- .ci/queue-contract-on-docker.sh      # as .ci/run does
set -euo pipefail
cd "$(dirname "$0")/.."

export JAVA_HOME=${SLUICE_JAVA_HOME:-${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}}
export SLUICE_TEST_REDIS=container
export SLUICE_TEST_REDIS_IMAGE=${SLUICE_TEST_REDIS_IMAGE:-${SLUICE_IMAGE_REDIS:-redis:7}}
export TESTCONTAINERS_RYUK_DISABLED=true
# Inside a container (/.dockerenv) Testcontainers finds the engine's host by running alpine:3.17, an image from a
# registry it cannot reach here: it retried for 2 minutes per test class, then failed. The engine publishes its ports
# on this machine, so its host is localhost.
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-localhost}
classes=(StreamJobQueueTest ListJobQueueTest)
reports=worker-node/target/surefire-reports

docker info >/dev/null 2>&1 || { echo "[contract] FAILED: no Docker engine answers" >&2; exit 1; }
docker image inspect "$SLUICE_TEST_REDIS_IMAGE" >/dev/null 2>&1 ||
  { echo "[contract] FAILED: the Redis image $SLUICE_TEST_REDIS_IMAGE is not present on the engine" >&2; exit 1; }
echo "[contract] queue contract suite with SLUICE_TEST_REDIS=container, image $SLUICE_TEST_REDIS_IMAGE"

for c in "${classes[@]}"; do rm -f "$reports/TEST-dev.sluice.worker.queue.$c.xml" "$reports/dev.sluice.worker.queue.$c.txt"; done
before=$(docker ps -a -q | sort)
since=$(date +%s)
status=0
./mvnw -B -ntp -q -pl worker-node -am test -Dtest="$(IFS=,; echo "${classes[*]}")" \
  -Dsurefire.failIfNoSpecifiedTests=false || status=$?

# Surefire's XML reports: tests that ran, failed, erred, were skipped.
summary=$(/usr/bin/env python3 - "$reports" "${classes[@]}" <<'EOF'
import sys, xml.etree.ElementTree as ET
reports, classes = sys.argv[1], sys.argv[2:]
total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for c in classes:
    path = f"{reports}/TEST-dev.sluice.worker.queue.{c}.xml"
    try:
        suite = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"no report for {c} ({e})")
        sys.exit(1)
    counts = {k: int(suite.get(k, 0)) for k in total}
    for k in total:
        total[k] += counts[k]
    reasons = {s.get("message", "") for s in suite.iter("skipped")}
    print(f"{c}: {counts['tests']} tests, {counts['failures']} failures, {counts['errors']} errors, "
          f"{counts['skipped']} skipped{(' (' + '; '.join(sorted(reasons))[:300] + ')') if reasons else ''}")
ok = total["tests"] > 0 and total["skipped"] == 0 and total["failures"] == 0 and total["errors"] == 0
print(f"total: {total['tests']} tests, {total['skipped']} skipped, {total['failures'] + total['errors']} failed")
sys.exit(0 if ok else 1)
EOF
) || { [ "$status" -ne 0 ] || status=1; }
sed 's/^/[contract] /' <<<"$summary"
# And the engine really ran Redis containers for them (not a local redis-server).
created=$(docker events --since "$since" --until "$(date +%s)" --filter type=container --filter event=create \
  --filter "image=$SLUICE_TEST_REDIS_IMAGE" --format '{{.ID}}' | wc -l)
echo "[contract] the engine created $created container(s) of $SLUICE_TEST_REDIS_IMAGE for the suite"
[ "$created" -gt 0 ] || status=1

# The testkit stops and removes its containers; say so if any was left behind.
left=$(comm -13 <(echo "$before") <(docker ps -a -q | sort))
if [ -n "$left" ]; then
  echo "[contract] removing containers the suite left: $(echo $left)"
  docker rm -f $left >/dev/null || true
fi
if [ "$status" -ne 0 ]; then
  echo "[contract] FAILED: the queue contract suite did not pass on the Docker engine (or did not run: see above)" >&2
  exit 1
fi
echo "[contract] PASSED on the Docker engine"
