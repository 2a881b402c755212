#!/usr/bin/env bash
# dockgen lock vs `uv pip compile --generate-hashes`, side by side, on the examples.
#
# Both resolve the same inputs for the same target (CPython 3.11.13, manylinux 2.36,
# x86_64; and CPython 3.10.12, manylinux 2.35, aarch64 for the second target) against
# PyPI with the same --exclude-newer, each with its own cache: "cold" starts from an
# empty cache, "warm" repeats the run with the cache the cold run left. Existing locks
# are deleted before every run, so dockgen cannot reuse pins.
#
# uv runs with UV_PYTHON_DOWNLOADS=never: otherwise it spends ~10 s per run trying to
# reach its Python download mirror, which this machine cannot, and the comparison would
# measure a network timeout instead of a resolver.
#
# Usage: bench/lock.sh [RUNS]     (median of RUNS timings per cell, default 3)
# Needs a release build (`cargo build --release`, or DOCKGEN=path) and uv 0.13.9
# (`bash scripts/test-deps.sh` puts it in .test-tools/bin).
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never
cd "$(dirname "$0")/.."
runs=${1:-3}
date_cut=2025-09-01T00:00:00Z
export PATH="$PWD/.test-tools/bin:$PATH"
command -v uv >/dev/null || { echo "uv not found: run \`bash scripts/test-deps.sh\`" >&2; exit 2; }
dockgen=${DOCKGEN:-$PWD/target/release/dockgen}
[ -x "$dockgen" ] || { echo "no $dockgen: run \`cargo build --release\` first (or set DOCKGEN)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

# time_it CACHE_MODE CMD...: runs CMD $runs times (cache emptied first when cold), prints the median seconds.
time_it() {
  local mode=$1; shift
  local times=()
  for _ in $(seq "$runs"); do
    if [ "$mode" = cold ]; then rm -rf "$work/cache-dockgen" "$work/cache-uv"; fi
    rm -rf "$work/ex/locks"
    local t0; t0=$(now)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    times+=("$(python3 -c "print($(now) - $t0)")")
  done
  median "${times[@]}"
}

dockgen_lock() { # profiles...
  local args=()
  for p in "$@"; do args+=(--profile "$PWD/bench/profiles/$p.yaml"); done
  (cd "$work/ex" && DOCKGEN_CACHE_DIR="$work/cache-dockgen" "$dockgen" lock requirements.in "${args[@]}" --exclude-newer "$date_cut" -q)
}
uv_compile() { # target...
  for t in "$@"; do
    case $t in
      x86-pypi) set -- --python-version 3.11.13 --python-platform x86_64-manylinux_2_36 ;;
      orin-pypi) set -- --python-version 3.10.12 --python-platform aarch64-manylinux_2_35 ;;
    esac
    (cd "$work/ex" && UV_CACHE_DIR="$work/cache-uv" uv pip compile requirements.in --generate-hashes \
      --exclude-newer "$date_cut" --index-url https://pypi.org/simple --quiet --no-build "$@" -o "$work/uv.txt")
  done
}

printf '%-18s %-22s %9s %9s %7s\n' example case dockgen uv ratio
row() { printf '%-18s %-22s %8ss %8ss %7s\n' "$1" "$2" "$3" "$4" "$(python3 -c "print(f'{$3/$4:.2f}x')")"; }
for example in fastapi-optional fastapi-vision jetson-tts video-diffusion; do
  # The example's input files only: its committed locks must not become earlier pins.
  rm -rf "$work/ex"; mkdir -p "$work/ex"; find "examples/$example" -maxdepth 1 -type f -exec cp {} "$work/ex/" \;
  for mode in cold warm; do
    if [ "$mode" = warm ]; then dockgen_lock x86-pypi; uv_compile x86-pypi; fi
    d=$(time_it $mode dockgen_lock x86-pypi)
    u=$(time_it $mode uv_compile x86-pypi)
    row "$example" "$mode, 1 profile" "$d" "$u"
  done
  for mode in cold warm; do
    if [ "$mode" = warm ]; then dockgen_lock x86-pypi orin-pypi; uv_compile x86-pypi orin-pypi; fi
    d=$(time_it $mode dockgen_lock x86-pypi orin-pypi)
    u=$(time_it $mode uv_compile x86-pypi orin-pypi)
    row "$example" "$mode, 2 profiles" "$d" "$u"
  done
done
echo "dockgen $("$dockgen" --version | cut -d' ' -f2), $(uv --version); median of $runs runs; ratio = dockgen / uv (below 1: dockgen faster)"
