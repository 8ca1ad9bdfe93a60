#!/usr/bin/env bash
# Kafka readiness probe without a JVM: sends an ApiVersions v0 request (correlation id 1) to localhost:${1:-9092}
# and succeeds when the broker answers it without error, which it does only once it processes requests.
# docker-compose.yml carries the same probe inline, so it works with the official image as well.
{ exec 3<>"/dev/tcp/127.0.0.1/${1:-9092}"; } 2>/dev/null || exit 1
printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3
answer=$(timeout 3 head -c 10 <&3 | od -An -tx1 | tr -d ' \n')
[ "${answer:8:12}" = "000000010000" ]
