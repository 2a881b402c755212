#!/usr/bin/env bash
# Make a test base image locally: no registry is reachable here, so nothing can be
# pulled. A minimal Debian 12 with python3 (3.11), venv and pip, for the engine's own
# architecture or, with ARCH, for another one (Debian's name: arm64).
#
# - Native: debootstrap, then `docker import`.
# - Foreign (ARCH given and not this machine's): debootstrap's first stage only
#   (--foreign: download and unpack, nothing of the target's runs), then every package
#   unpacked without its maintainer scripts, the few files those scripts would make
#   written here, and the tree loaded as an image archive whose config names ARCH
#   (`docker import --platform` records the engine's own architecture on Docker 20.10).
#   Running debootstrap's second stage under QEMU instead takes about 14 minutes here.
#
# Usage: scripts/base-image.sh [TAG] [ARCH]     (skips the work when the image exists)
set -euo pipefail
tag=${1:-dockgen-test/bookworm-python:3.11}
arch=${2:-}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag exists"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-venv,python3-pip,ca-certificates,passwd
native=$(dpkg --print-architecture)

if [ -z "$arch" ] || [ "$arch" = "$native" ]; then
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >/dev/null
  # Keep the image small and reproducible-ish: no apt lists or caches.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
  echo "base image $tag made"
  exit 0
fi

debootstrap --foreign --arch="$arch" --variant=minbase --include="$packages" \
  bookworm "$rootfs" "$mirror" >/dev/null
for deb in "$rootfs"/var/cache/apt/archives/*.deb; do
  dpkg-deb -x "$deb" "$rootfs"
done
# What the skipped maintainer scripts would have made, as far as the tests need it:
# the users and groups (base-passwd), and the shell's /bin/sh (dash).
cp "$rootfs/usr/share/base-passwd/passwd.master" "$rootfs/etc/passwd"
cp "$rootfs/usr/share/base-passwd/group.master" "$rootfs/etc/group"
[ -e "$rootfs/usr/bin/sh" ] || ln -s dash "$rootfs/usr/bin/sh"
rm -rf "$rootfs/debootstrap" "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin

# An image archive as `docker save` writes it: one layer, a config naming the
# architecture, a manifest naming the tag.
image=$work/image
mkdir "$image"
tar -C "$rootfs" --numeric-owner -cf "$image/layer.tar" .
python3 - "$image" "$tag" "$arch" <<'EOF'
import hashlib, json, os, sys

image, tag, arch = sys.argv[1:]
digest = hashlib.sha256()
with open(os.path.join(image, "layer.tar"), "rb") as layer:
    for block in iter(lambda: layer.read(1 << 20), b""):
        digest.update(block)
config = json.dumps({
    "architecture": arch,
    "os": "linux",
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/bin/bash"],
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + digest.hexdigest()]},
    "history": [{"created_by": "scripts/base-image.sh (debootstrap --foreign)"}],
}, sort_keys=True).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
with open(os.path.join(image, config_name), "wb") as out:
    out.write(config)
with open(os.path.join(image, "manifest.json"), "w") as out:
    json.dump([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}], out)
EOF
tar -C "$image" -c . | docker load >/dev/null
echo "base image $tag ($arch) made"
