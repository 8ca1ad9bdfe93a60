#!/usr/bin/env bash
# Builds the local stand-in JRE image (default sluice/jre:<feature version of the JDK>) from the base image and
# a jlink'ed JRE of the JDK at JAVA_HOME. Skips the work when the image exists (--force rebuilds it).
#
#   deploy/images/jre/build.sh [--force] [TAG]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
feature=$("$java_home/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
tag=${1:-sluice/jre:$feature}
base=${SLUICE_IMAGE_BASE:-sluice/base:bookworm}

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "[jre] $tag exists; skipping"
  exit 0
fi

# What the worker, coordinator, Hub simulator and Kafka broker jars need (jdeps --print-module-deps over their
# unpacked dependencies), plus the modules that libraries load by name: SASL/Kerberos login modules
# (jdk.security.auth), JNDI DNS for Hazelcast's Kubernetes DNS discovery (jdk.naming.dns), EC crypto.
modules=java.base,java.desktop,java.logging,java.management,java.naming,java.net.http,java.security.jgss
modules=$modules,java.security.sasl,java.sql,java.xml,jdk.crypto.ec,jdk.httpserver,jdk.management
modules=$modules,jdk.naming.dns,jdk.security.auth,jdk.unsupported

context=$(mktemp -d /tmp/sluice-jre.XXXXXX)
trap 'rm -rf "$context" "$context.log"' EXIT
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --output "$context/jre"
cp "$here/Dockerfile" "$context/"
if ! docker build --build-arg BASE_IMAGE="$base" -t "$tag" "$context" >"$context.log" 2>&1; then
  cat "$context.log" >&2; rm -f "$context.log"
  exit 1
fi
echo "[jre] built $tag: Java $feature, $(du -sh "$context/jre" | cut -f1) of modules: $modules"
