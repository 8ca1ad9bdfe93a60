#!/usr/bin/env bash
# Installs from Debian (apt) what Sluice's tests or its demo need and the machine lacks; does nothing for what it has,
# so it can run before every test run. Says on one line what it installs and why.
#
#   deploy/install-deps.sh --for test   # what `bin/test` (the README's test command, CI's too) needs: redis-server,
#                                       # curl, prometheus-alertmanager, iproute2, iptables, faketime, chromium,
#                                       # chromium-driver (the default)
#   deploy/install-deps.sh --for demo   # what `deploy/demo.sh` needs without Docker: redis-server, curl
#
# Runs `apt-get update` once, and only when something is missing. As root it runs apt-get itself; otherwise through
# sudo when sudo works without a password; otherwise it prints the exact command to run and exits 1.
# prometheus-alertmanager alone may fail to install: its test is then skipped, and this says so (WARNING) and goes on.
# The JDK is not installed here: the build wants a JDK 25 (JAVA_HOME, default /usr/lib/jvm/temurin-25-jdk-amd64).
set -euo pipefail

purpose=test
while [ $# -gt 0 ]; do
  case "$1" in
    --for) purpose=${2:-}; shift; [ $# -eq 0 ] || shift ;;
    --for=*) purpose=${1#--for=}; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "[install-deps] unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "[install-deps] $*"; }
join() { local out=$1; shift; for item in "$@"; do out+="; $item"; done; echo "$out"; }

# package|what shows it is there (commands on PATH or in the sbin folders, or absolute paths)|why
demo_packages=(
  "redis-server|redis-server redis-cli|every test class and the local demo start their own Redis"
  "curl|curl|the no-Docker launcher deploy/local/sluice-local.sh polls what it starts with it"
)
test_packages=(
  "${demo_packages[@]}"
  "prometheus-alertmanager|prometheus-alertmanager|a real Alertmanager for the coordinator's webhook test, skipped without it"
  "iproute2|ip|FleetPartitionTest runs a node in its own network namespace"
  "iptables|iptables|FleetPartitionTest drops that node's Hazelcast traffic"
  "faketime|faketime|FleetFaultsTest steps the clock of its redis-server"
  "chromium|/usr/bin/chromium|headless browser for the coordinator dashboard's browser tests"
  "chromium-driver|/usr/bin/chromedriver|WebDriver for those tests"
)
case "$purpose" in
  test) wanted=("${test_packages[@]}") ;;
  demo) wanted=("${demo_packages[@]}") ;;
  *) echo "[install-deps] --for takes test or demo, but was '$purpose'" >&2; exit 2 ;;
esac

present() {
  local thing
  for thing in "$@"; do
    case "$thing" in
      /*) [ -x "$thing" ] || return 1 ;;
      *) command -v "$thing" >/dev/null 2>&1 || [ -x "/usr/sbin/$thing" ] || [ -x "/sbin/$thing" ] || return 1 ;;
    esac
  done
}

missing=()       # packages to install
optional=()      # of those, the ones whose failure only skips a test
reasons=()
for entry in "${wanted[@]}"; do
  IFS='|' read -r package checks why <<<"$entry"
  # shellcheck disable=SC2086 # the checks are words
  if ! present $checks; then
    if [ "$package" = prometheus-alertmanager ]; then optional+=("$package"); else missing+=("$package"); fi
    reasons+=("$package ($why)")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
  say "nothing to install for $purpose: $(for e in "${wanted[@]}"; do printf '%s ' "${e%%|*}"; done)are there"
  exit 0
fi

all=("${missing[@]}" "${optional[@]}")
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[install-deps] missing for $purpose: $(join "${reasons[@]}"); this is no Debian machine (no apt-get): install them yourself" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  if command -v sudo >/dev/null 2>&1; then
    command="sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${all[*]}"
  else
    command="su -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${all[*]}'"
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    say "WARNING: prometheus-alertmanager is missing and this user cannot install it (not root, no sudo without a" \
      "password); its compatibility test will be skipped. To install it: $command"
    exit 0
  fi
  echo "[install-deps] missing for $purpose: $(join "${reasons[@]}")" >&2
  echo "[install-deps] not root, and no sudo that runs without a password; run this as root, then run again what you ran:" >&2
  echo "$command" >&2
  exit 1
fi

# apt-get quietly: its output (debconf and needrestart chatter included) is shown only when it fails. Waits for a
# lock another apt holds (up to 5 minutes) instead of failing at once.
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
apt_get() {
  if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
      apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@" >"$apt_log" 2>&1; then
    tail -20 "$apt_log" >&2
    return 1
  fi
}
say "installing from Debian for $purpose: $(join "${reasons[@]}")"
apt_get update || { echo "[install-deps] apt-get update failed" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  apt_get install "${missing[@]}" || { echo "[install-deps] apt-get install ${missing[*]} failed" >&2; exit 1; }
fi
installed=("${missing[@]}")
if [ ${#optional[@]} -gt 0 ]; then
  if apt_get install "${optional[@]}"; then
    installed+=("${optional[@]}")
  else
    say "WARNING: prometheus-alertmanager not installed; its compatibility test will be skipped"
  fi
fi
still=()
for entry in "${wanted[@]}"; do
  IFS='|' read -r package checks _ <<<"$entry"
  # shellcheck disable=SC2086
  present $checks || [ "$package" = prometheus-alertmanager ] || still+=("$package ($checks)")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "[install-deps] installed, but still not found: $(join "${still[@]}")" >&2
  exit 1
fi
[ ${#installed[@]} -eq 0 ] || say "installed: ${installed[*]}"
