#!/usr/bin/env bash
# Builds the local stand-in base image (default sluice/base:bookworm) where no container registry is reachable:
# a minimal Debian bookworm root file system made by debootstrap, imported into Docker as an image.
# Skips the work when the image exists already (--force rebuilds it). Needs root, debootstrap and a Docker engine.
#
#   deploy/images/base/build.sh [--force] [TAG]
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
tag=${1:-sluice/base:bookworm}
mirror=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "[base] $tag exists; skipping"
  exit 0
fi

rootfs=$(mktemp -d /tmp/sluice-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "[base] debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2
  echo "[base] debootstrap failed; full log in $rootfs.log" >&2
  exit 1
}
rm -f "$rootfs.log"
# Smaller image: package lists and caches are fetched again by any image that installs packages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
       "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "[base] imported $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
