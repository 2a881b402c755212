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
# The second table locks the large inputs of bench/inputs/ (wide-50: 210 pins, wide-128:
# 406 pins, names from public ML projects) with --exclude-newer 2026-11-01T00:00:00Z in
# five cases: cold, warm, relock (the previous run's lock kept: both tools prefer its
# pins), offline (warm cache, --offline) and 3 profiles in one dockgen run against three
# uv runs (warm). Each cell is the median time and the largest peak RSS of RUNS runs,
# dockgen and uv interleaved; the last column is issue 11's goal for that case.
#
# Usage: bench/lock.sh [RUNS] [examples|large|all]   (median of RUNS runs, default 3; all)
# LARGE_INPUTS="wide-50" limits the second table to some of bench/inputs/.
# Needs a release build (`cargo build --release`, or DOCKGEN=path), uv 0.13.9
# (`bash scripts/test-deps.sh` puts it in .test-tools/bin) and GNU time (/usr/bin/time,
# Debian's `time`) for the peak RSS.
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never
cd "$(dirname "$0")/.."
runs=${1:-3}
tables=${2:-all}
date_cut=2025-09-01T00:00:00Z
export PATH="$PWD/.test-tools/bin:$PATH"
command -v uv >/dev/null || { echo "uv not found: run \`bash scripts/test-deps.sh\`" >&2; exit 2; }
dockgen=${DOCKGEN:-$PWD/target/release/dockgen}
[ -x "$dockgen" ] || { echo "no $dockgen: run \`cargo build --release\` first (or set DOCKGEN)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

# time_pair CACHE_MODE PROFILES...: RUNS runs of dockgen and of uv, alternating (caches
# emptied before each when cold); prints the two medians in seconds.
time_pair() {
  local mode=$1; shift
  local d=() u=() tool
  for _ in $(seq "$runs"); do
    for tool in dockgen uv; do
      if [ "$mode" = cold ]; then rm -rf "$work/cache-dockgen" "$work/cache-uv"; fi
      rm -rf "$work/ex/locks"
      local t0; t0=$(now)
      if [ "$tool" = dockgen ]; then dockgen_lock "$@"; else uv_compile "$@"; fi >/dev/null 2>&1 \
        || { echo "$tool failed on $*" >&2; exit 1; }
      local t; t=$(python3 -c "print($(now) - $t0)")
      if [ "$tool" = dockgen ]; then d+=("$t"); else u+=("$t"); fi
    done
  done
  echo "$(median "${d[@]}") $(median "${u[@]}")"
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

if [ "$tables" != large ]; then
printf '%-18s %-22s %9s %9s %7s\n' example case dockgen uv ratio
row() { printf '%-18s %-22s %8ss %8ss %7s\n' "$1" "$2" "$3" "$4" "$(python3 -c "print(f'{$3/$4:.2f}x')")"; }
for example in fastapi-optional fastapi-vision jetson-tts video-diffusion; do
  # The example's input files only: its committed locks must not become earlier pins.
  rm -rf "$work/ex"; mkdir -p "$work/ex"; find "examples/$example" -maxdepth 1 -type f -exec cp {} "$work/ex/" \;
  for mode in cold warm; do
    if [ "$mode" = warm ]; then dockgen_lock x86-pypi; uv_compile x86-pypi; fi
    read -r d u <<<"$(time_pair $mode x86-pypi)"
    row "$example" "$mode, 1 profile" "$d" "$u"
  done
  for mode in cold warm; do
    if [ "$mode" = warm ]; then dockgen_lock x86-pypi orin-pypi; uv_compile x86-pypi orin-pypi; fi
    read -r d u <<<"$(time_pair $mode x86-pypi orin-pypi)"
    row "$example" "$mode, 2 profiles" "$d" "$u"
  done
done
fi

# Large inputs: one timed, measured run of a tool; prints "SECONDS PEAK_MB". For uv,
# every target is one run: the seconds add up, the peak is the largest.
big_cut=2026-11-01T00:00:00Z
uv_target() {
  case $1 in
    x86-pypi) echo "--python-version 3.11.13 --python-platform x86_64-manylinux_2_36" ;;
    orin-pypi) echo "--python-version 3.10.12 --python-platform aarch64-manylinux_2_35" ;;
    x86-py310-pypi) echo "--python-version 3.10.12 --python-platform x86_64-manylinux_2_36" ;;
  esac
}
measured() { # CASE TOOL PROFILES...
  local case=$1 tool=$2; shift 2
  local total=0 peak=0 offline=()
  [ "$case" = offline ] && offline=(--offline)
  [ "$case" = cold ] && rm -rf "$work/cache-$tool"
  [ "$case" = relock ] || rm -rf "$work/big/locks" "$work"/big/uv-*.txt
  if [ "$tool" = dockgen ]; then
    local args=()
    for p in "$@"; do args+=(--profile "$PWD/bench/profiles/$p.yaml"); done
    (cd "$work/big" && DOCKGEN_CACHE_DIR="$work/cache-dockgen" /usr/bin/time -f '%e %M' -o "$work/time" \
      "$dockgen" lock requirements.in "${args[@]}" --exclude-newer "$big_cut" "${offline[@]}" -q) \
      >/dev/null 2>"$work/err" || { echo "dockgen failed ($case):" >&2; cat "$work/err" >&2; exit 1; }
    read -r total peak < "$work/time"
  else
    for p in "$@"; do
      # shellcheck disable=SC2046 # the target flags are words
      (cd "$work/big" && UV_CACHE_DIR="$work/cache-uv" /usr/bin/time -f '%e %M' -o "$work/time" \
        uv pip compile requirements.in --generate-hashes --exclude-newer "$big_cut" \
        --index-url https://pypi.org/simple "${offline[@]}" --quiet $(uv_target "$p") -o "uv-$p.txt") \
        >/dev/null 2>"$work/err" || { echo "uv failed ($case):" >&2; cat "$work/err" >&2; exit 1; }
      local s kb; read -r s kb < "$work/time"
      total=$(python3 -c "print($total + $s)"); peak=$((kb > peak ? kb : peak))
    done
  fi
  echo "$total $((peak / 1024))"
}
goal_of() { # CASE RATIO DOCKGEN_MB UV_MB
  python3 - "$@" <<'PY'
import sys
case, ratio, dmb, umb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
limit = {"cold": 0.8, "warm": 0.5, "relock": 0.5, "offline": 1.0, "3 profiles": 0.25}[case]
ok = ratio <= limit and dmb <= umb
print(("met" if ok else "MISSED") + f" (time at most {limit:.2f}x, RSS at most uv's)")
PY
}
if [ "$tables" != examples ]; then
  echo
  printf '%-10s %-4s %-11s %9s %9s %7s %13s  %s\n' input pins case dockgen uv ratio "RSS MB d/uv" goal
  for input in ${LARGE_INPUTS:-wide-50 wide-128}; do
    rm -rf "$work/big"; mkdir -p "$work/big"; cp "bench/inputs/$input.in" "$work/big/requirements.in"
    pins=""
    for case in cold warm relock offline "3 profiles"; do
      profiles=(x86-pypi)
      [ "$case" = "3 profiles" ] && profiles=(x86-pypi orin-pypi x86-py310-pypi)
      # Warm the caches (for every target of the case); this also leaves the locks that
      # "relock" keeps.
      if [ "$case" != cold ]; then measured warm dockgen "${profiles[@]}" >/dev/null; measured warm uv "${profiles[@]}" >/dev/null; fi
      d=(); u=(); dpeak=0; upeak=0
      for _ in $(seq "$runs"); do
        out=$(measured "$case" dockgen "${profiles[@]}"); read -r s mb <<<"$out"
        d+=("$s"); dpeak=$((mb > dpeak ? mb : dpeak))
        out=$(measured "$case" uv "${profiles[@]}"); read -r s mb <<<"$out"
        u+=("$s"); upeak=$((mb > upeak ? mb : upeak))
      done
      [ -n "$pins" ] || pins=$(grep -cE '^[A-Za-z0-9]' "$work/big/uv-x86-pypi.txt")
      dm=$(median "${d[@]}"); um=$(median "${u[@]}")
      ratio=$(python3 -c "print(f'{$dm/$um:.2f}')")
      printf '%-10s %-4s %-11s %8ss %8ss %6sx %13s  %s\n' "$input" "$pins" "$case" "$dm" "$um" "$ratio" \
        "$dpeak / $upeak" "$(goal_of "$case" "$ratio" "$dpeak" "$upeak")"
    done
  done
fi
echo "dockgen $("$dockgen" --version | cut -d' ' -f2), $(uv --version); median of $runs runs; ratio = dockgen / uv (below 1: dockgen faster)"
