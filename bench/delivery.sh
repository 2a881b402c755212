#!/usr/bin/env bash
# How locked files reach a build: `dockgen build --delivery served` (a package server on
# loopback, files kept in a BuildKit cache mount) against `--delivery context` (every
# file in the build context, which the engine API takes as one tar, whole, per build).
#
# The same lock is built both ways, on the local base image (scripts/base-image.sh):
# a cold build (BuildKit's cache pruned; dockgen's host store warm, so neither measures
# PyPI), then a rebuild after adding one small requirement. Printed per build: wall
# time, bytes of context sent to the engine, bytes the build fetched from the package
# server. The requirements are a few large wheels (numpy, opencv, onnxruntime), where
# the difference shows; the ratio grows with the size of the environment (torch's CUDA
# wheels are 2-3 GB).
#
# Usage: bench/delivery.sh        (prunes the engine's build cache: `docker builder prune -af`)
set -euo pipefail
cd "$(dirname "$0")/.."
base_image=dockgen-test/bookworm-python:3.11
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { echo "bench/delivery.sh: no Docker engine answers" >&2; exit 2; }
docker image inspect "$base_image" >/dev/null 2>&1 || bash scripts/base-image.sh "$base_image"
cargo build --release --quiet
dockgen=$PWD/target/release/dockgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/bench-cpu.yaml" <<EOF
name: bench-cpu
extends: cpu-x86_64
python: 3.11.2
images:
  builder:
    image: $base_image
    system_packages: []
  runtime:
    image: $base_image
    system_packages: []
verify:
  imports: [numpy, cv2, onnxruntime]
  assertions: []
EOF
export DOCKGEN_CACHE_DIR=$work/cache
requirements='numpy==2.2.6
opencv-python-headless==4.12.0.88
onnxruntime==1.22.1
pillow==11.3.0'

now() { date +%s.%N; }
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r[sys.argv[2]])' "$work/artifacts/bench-cpu/build-report.json" "$1"; }
mb() { python3 -c "print(f'{$1/1e6:.1f} MB')"; }

build() { # DELIVERY CASE
  local t0 t
  t0=$(now)
  (cd "$work" && "$dockgen" build --profile bench-cpu.yaml --delivery "$1" --progress quiet -q --tag dockgen-bench/delivery:latest)
  t=$(python3 -c "print(f'{$(now) - $t0:.1f}')")
  printf '%-8s %-16s %7ss %12s %12s %6s\n' "$1" "$2" "$t" "$(mb "$(field context_bytes)")" "$(mb "$(field served_bytes)")" "$(field served_files)"
}

printf '%-8s %-16s %8s %12s %12s %6s\n' delivery case time context served files
for delivery in served context; do
  printf '%s\n' "$requirements" >"$work/requirements.in"
  (cd "$work" && "$dockgen" lock --profile bench-cpu.yaml --exclude-newer 2025-09-01 -q)
  docker builder prune -af >/dev/null 2>&1
  build "$delivery" cold
  printf '%s\nsix==1.17.0\n' "$requirements" >"$work/requirements.in"
  (cd "$work" && "$dockgen" lock --profile bench-cpu.yaml --exclude-newer 2025-09-01 -q)
  build "$delivery" "one added"
done
docker rmi -f dockgen-bench/delivery:latest >/dev/null 2>&1 || true
