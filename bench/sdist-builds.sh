#!/usr/bin/env bash
# dockgen lock vs `uv pip compile --generate-hashes` on an input whose sdists need
# metadata builds (bench/inputs/sdist-builds.in): same target (CPython 3.11.13,
# manylinux 2.36, x86_64), PyPI only, same --exclude-newer, each tool with its own cache.
# "cold" empties both caches before each run (every sdist is downloaded and built, every
# build requirement fetched); "warm" repeats with the cache the previous run left (a
# warm dockgen relock builds nothing: it reads the built metadata from its cache). The
# lock is deleted before every run, so no pins are reused. Runs are interleaved
# (dockgen, uv, dockgen, uv, ...) so that both see the same network and machine load.
#
# Usage: bench/sdist-builds.sh [RUNS]   (median of RUNS, default 3)
# Needs a release build (`cargo build --release`, or DOCKGEN=path) and uv 0.13.9
# (`bash scripts/test-deps.sh` puts it in .test-tools/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never PATH="$PWD/.test-tools/bin:$PATH"
runs=${1:-3}
cut=2026-11-01T00:00:00Z
dockgen=${DOCKGEN:-$PWD/target/release/dockgen}
[ -x "$dockgen" ] || { echo "no $dockgen: run \`cargo build --release\` first (or set DOCKGEN)" >&2; exit 2; }
command -v uv >/dev/null || { echo "uv not found: run \`bash scripts/test-deps.sh\`" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp bench/inputs/sdist-builds.in "$work/requirements.in"
cp bench/profiles/x86-pypi.yaml "$work/"

now() { date +%s.%N; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }
dockgen_lock() {
  (cd "$work" && DOCKGEN_CACHE_DIR="$work/cache-dockgen" "$dockgen" lock requirements.in \
    --profile x86-pypi.yaml --exclude-newer "$cut" -q -o "$work/dockgen.txt")
}
uv_compile() {
  (cd "$work" && UV_CACHE_DIR="$work/cache-uv" uv pip compile requirements.in --generate-hashes \
    --exclude-newer "$cut" --index-url https://pypi.org/simple --python-version 3.11.13 \
    --python-platform x86_64-manylinux_2_36 --quiet -o "$work/uv.txt")
}
# once MODE TOOL: one timed run; prints seconds.
once() {
  if [ "$1" = cold ]; then rm -rf "$work/cache-$2"; fi
  rm -f "$work/$2.txt"
  local t0; t0=$(now)
  if [ "$2" = dockgen ]; then dockgen_lock; else uv_compile; fi >/dev/null 2>"$work/err" \
    || { echo "$2 failed:" >&2; cat "$work/err" >&2; exit 1; }
  python3 -c "print($(now) - $t0)"
}
pins() { grep -E '^[a-z0-9]' "$1" | sed 's/ .*//' | sort; }

# Issue 10's goals: cold no slower than uv, warm faster.
goal() { # MODE RATIO
  python3 -c "import sys; r=float(sys.argv[2]); ok = r <= 1 if sys.argv[1] == 'cold' else r < 1
print(('met' if ok else 'MISSED') + ' (' + ('at most' if sys.argv[1] == 'cold' else 'below') + ' 1.00x)')" "$1" "$2"
}
printf '%-6s %9s %9s %7s  %s\n' cache dockgen uv ratio goal
for mode in cold warm; do
  [ "$mode" = warm ] && { dockgen_lock; uv_compile; }
  d=(); u=()
  for _ in $(seq "$runs"); do d+=("$(once $mode dockgen)"); u+=("$(once $mode uv)"); done
  dm=$(median "${d[@]}"); um=$(median "${u[@]}")
  ratio=$(python3 -c "print(f'{$dm/$um:.2f}')")
  printf '%-6s %8ss %8ss %6sx  %s\n' "$mode" "$dm" "$um" "$ratio" "$(goal $mode "$ratio")"
done
if diff <(pins "$work/dockgen.txt") <(pins "$work/uv.txt") >/dev/null; then
  echo "same pins: $(pins "$work/uv.txt" | wc -l)"
else
  echo "pins differ (< dockgen, > uv):"; diff <(pins "$work/dockgen.txt") <(pins "$work/uv.txt") | grep '^[<>]'
fi
echo "dockgen $("$dockgen" --version | cut -d' ' -f2), $(uv --version); median of $runs runs; ratio = dockgen / uv (below 1: dockgen faster)"
