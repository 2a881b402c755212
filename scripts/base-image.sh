#!/usr/bin/env bash
# Make the test base image locally: no registry is reachable here, so nothing can be
# pulled. debootstrap a minimal Debian 12 with python3 (3.11), venv and pip, and
# `docker import` it as `dockgen-test/bookworm-python:3.11`.
#
# Usage: scripts/base-image.sh [TAG]     (skips the work when the image exists)
set -euo pipefail
tag=${1:-dockgen-test/bookworm-python:3.11}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag exists"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates,passwd \
  bookworm "$rootfs" "$mirror" >/dev/null
# Keep the image small and reproducible-ish: no apt lists or caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "base image $tag made"
