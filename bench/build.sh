#!/usr/bin/env bash
# dockgen build vs a hand-written Dockerfile in the style of the audiobook project's
# dependency guide (bench/baseline/Dockerfile: pip-compile in a resolver stage, pip
# wheel, pip install), side by side on one example: cold build, warm rebuild with no
# change, and a rebuild after one requirement was added. Then dockgen alone: a cold
# build on an empty build cache with the registry cache warm (`--push`, then
# `--cache-from` after the prune) against the same build without it, one after the
# other; and
# the example for linux/arm64 under QEMU emulation (bench/profiles/arm64-local.yaml),
# cold and after the same added requirement, when the arm64 base image and QEMU's
# aarch64 handler are there.
#
# Both build the same requirements on the same base image (`dockgen-test/bookworm-python:3.11`,
# from scripts/base-image.sh) through the engine API with BuildKit. dockgen locks on the
# host against PyPI with --exclude-newer; the baseline resolves inside its build, from a
# loopback index on the host (containers here cannot reach PyPI) holding exactly the
# wheels dockgen locked, fetched by `pip download --require-hashes` from dockgen's locks,
# so both install the same set.
#
# Measured per build: wall time (dockgen: `dockgen lock` + `dockgen build`; baseline:
# tar of the context + the build request), bytes sent to the engine (the context, plus
# what a loopback index served during the build), and the final image's size.
#
# "cold" empties BuildKit's build cache first (POST /build/prune?all=1, what
# `docker builder prune -af` does), for every user of this engine. dockgen's host cache
# (index responses, package store) is warm then, as the baseline's loopback index is
# filled before: a separate line gives dockgen's cold build with an empty store.
#
# Usage: bench/build.sh     (one run per cell; needs the engine on a unix socket,
#                            the base image, cargo, python3 with pip, and PyPI from the host;
#                            Debian's docker-registry for the registry rows)
set -euo pipefail
cd "$(dirname "$0")/.."
example=fastapi-optional
added=tenacity
date_cut=2025-09-01T00:00:00Z
base_image=dockgen-test/bookworm-python:3.11
profile=$PWD/bench/profiles/x86-local.yaml
steps=$PWD/bench/build_steps.py

sock=/var/run/docker.sock
case ${DOCKER_HOST:-} in
  '') ;;
  unix://*) sock=${DOCKER_HOST#unix://} ;;
  *) echo "bench/build.sh: DOCKER_HOST=$DOCKER_HOST: the bench needs the engine on a unix socket" >&2; exit 1 ;;
esac
api() { curl -sS --unix-socket "$sock" "$@"; }
if ! api -f http://localhost/_ping >/dev/null 2>&1; then
  echo "bench/build.sh: no Docker engine answers on $sock" >&2; exit 1
fi
if ! api -f "http://localhost/v1.41/images/$base_image/json" >/dev/null 2>&1; then
  echo "bench/build.sh: the base image $base_image is missing; make it with: bash scripts/base-image.sh" >&2; exit 1
fi

cargo build --release --quiet
dockgen=$PWD/target/release/dockgen
work=$(mktemp -d)
tag_dockgen=dockgen-bench/dockgen:$$
tag_baseline=dockgen-bench/baseline:$$
server=
registry=
cache_ref=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "$registry" ]; then kill "$registry" 2>/dev/null || true; fi
  for tag in "$tag_dockgen" "$tag_baseline" ${cache_ref:+"$cache_ref"}; do
    api -X DELETE "http://localhost/v1.41/images/$tag?force=1" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.2f}')"; }
mb() { python3 -c "print(f'{$1 / 1e6:.1f}')"; }
ratio() { python3 -c "r = $1 / $2 if $2 else None; print('-' if r is None else f'{r:.0f}x' if r >= 100 else f'{r:.2f}x')"; }
prune() { api -f -X POST "http://localhost/v1.41/build/prune?all=1" >/dev/null; }
image_size() { api -f "http://localhost/v1.41/images/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Size"])'; }
served() { python3 "$steps" served "$work/served.log"; }
# dockgen in `$ex` (the example's copy by default), with the bench's own cache.
ex=$work/ex
dg() { (cd "$ex" && DOCKGEN_CACHE_DIR="$work/cache" "$dockgen" "$@"); }
pins() { grep -E '^[A-Za-z0-9._-]+==' "$1" | cut -d' ' -f1 | sort; }

# The example, and its lock with one requirement added (to learn the added pins).
mkdir -p "$work/ex" "$work/base" "$work/index"
cp examples/$example/requirements.in examples/$example/base.in "$work/ex/"
dg lock requirements.in --profile "$profile" --exclude-newer "$date_cut" -q
cp -r "$work/ex" "$work/ex-added"
echo "$added" >>"$work/ex-added/requirements.in"
ex=$work/ex-added dg lock requirements.in --profile "$profile" --exclude-newer "$date_cut" -q
lock=$work/ex/locks/x86-local.txt
lock_added=$work/ex-added/locks/x86-local.txt
if [ -n "$(comm -23 <(pins "$lock") <(pins "$lock_added"))" ]; then
  echo "bench/build.sh: adding $added moved other pins; the baseline's index would hold two versions" >&2; exit 1
fi

# The baseline's index: the wheels of both locks, by their hashes, and pinned pip-tools.
platforms=()
for minor in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for l in "$lock" "$lock_added"; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" \
    --python-version 3.11 --implementation cp --abi cp311 -d "$work/index" -r "$l"
done
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/index" \
  pip-tools==7.5.0 build==1.3.0 pyproject-hooks==1.2.0
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$steps" serve "$work/index" "$port" "$work/served.log" &
server=$!
for _ in $(seq 50); do
  if curl -sf --noproxy '*' "http://127.0.0.1:$port/" >/dev/null; then break; fi
  sleep 0.1
done
curl -sf --noproxy '*' "http://127.0.0.1:$port/" >/dev/null || { echo "bench/build.sh: the loopback index did not start" >&2; exit 1; }
cp bench/baseline/Dockerfile "$work/base/"
cp "$work/ex/requirements.in" "$work/ex/base.in" "$work/base/"
buildargs=$(python3 -c "import json, urllib.parse; print(urllib.parse.quote(json.dumps({'FIND_LINKS': 'http://127.0.0.1:$port/'})))")

declare -A secs sent_ctx sent_srv size detail
delivery=context
# dockgen_build CASE [BUILD OPTION...]: lock and build `$ex` (default the example) for
# `$bprofile` (default x86-local), tagged `$btag`.
bprofile=$profile
bname=x86-local
btag=$tag_dockgen
dockgen_build() { # CASE [BUILD OPTION...]
  local case=$1 t0 log=$work/dockgen-$1.log report=$ex/artifacts/$bname/build-report.json
  shift
  t0=$(now)
  dg lock requirements.in --profile "$bprofile" --exclude-newer "$date_cut" -q
  local lock_secs; lock_secs=$(since "$t0")
  if ! dg build --profile "$bprofile" --progress plain -t "$btag" "$@" >"$log" 2>&1; then
    tail -40 "$log" >&2; echo "bench/build.sh: dockgen build ($case) failed" >&2; exit 1
  fi
  secs[dockgen,$case]=$(since "$t0")
  read -r "sent_ctx[dockgen,$case]" "sent_srv[dockgen,$case]" delivery < <(python3 -c \
    'import json,sys; r = json.load(open(sys.argv[1])); print(r["context_bytes"], r.get("served_bytes", 0), r.get("delivery", "context"))' "$report")
  size[dockgen,$case]=$(image_size "$btag")
  python3 "$steps" plain "$log" "$work/steps-dockgen-$case.json"
  detail[dockgen,$case]="lock $lock_secs  $(python3 "$steps" stages "$work/steps-dockgen-$case.json")"
}
baseline_build() { # CASE
  local t0 before ctx=$work/baseline-context.tar
  before=$(served)
  t0=$(now)
  tar -C "$work/base" -cf "$ctx" .
  if ! api -X POST -H 'Content-Type: application/x-tar' --data-binary @"$ctx" \
    "http://localhost/v1.41/build?version=2&t=$tag_baseline&networkmode=host&buildargs=$buildargs" |
    python3 "$steps" trace "$work/steps-baseline-$1.json"; then
    echo "bench/build.sh: the baseline build ($1) failed" >&2; exit 1
  fi
  secs[baseline,$1]=$(since "$t0")
  sent_ctx[baseline,$1]=$(stat -c %s "$ctx")
  sent_srv[baseline,$1]=$(($(served) - before))
  size[baseline,$1]=$(image_size "$tag_baseline")
  detail[baseline,$1]=$(python3 "$steps" stages "$work/steps-baseline-$1.json")
}

cases=(cold warm added)
declare -A label=([cold]=cold [warm]="warm, no change" [added]="+1 requirement")
echo "bench/build.sh: $example, adding $added; emptying BuildKit's build cache (as docker builder prune -af) before each cold build" >&2
prune
dockgen_build empty-store
empty_store_secs=${secs[dockgen,empty-store]}
empty_store_bytes=$(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(r.get("packages", r.get("wheelhouse"))["bytes_downloaded"])' \
  "$work/ex/artifacts/x86-local/build-report.json")
prune
dockgen_build cold
dockgen_build warm
echo "$added" >>"$work/ex/requirements.in"
dockgen_build added
prune
baseline_build cold
baseline_build warm
echo "$added" >>"$work/base/requirements.in"
baseline_build added

# The registry cache: push the +1 image (with its inline cache), then two cold builds
# of the same lock on an emptied build cache, without and with --cache-from.
registry_note="registry rows skipped: Debian's docker-registry is not installed"
if command -v docker-registry >/dev/null; then
  reg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry/data" "$reg_port" >"$work/registry/config.yml"
  docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
  registry=$!
  for _ in $(seq 100); do
    if curl -sf --noproxy '*' "http://127.0.0.1:$reg_port/v2/" >/dev/null; then break; fi
    sleep 0.1
  done
  cache_ref=127.0.0.1:$reg_port/dockgen-bench/app:$$
  btag=$cache_ref
  dockgen_build push --push
  btag=$tag_dockgen
  prune
  api -X DELETE "http://localhost/v1.41/images/$cache_ref?force=1" >/dev/null
  dockgen_build cold-nocache
  prune
  api -X DELETE "http://localhost/v1.41/images/$tag_dockgen?force=1" >/dev/null
  dockgen_build cold-registry --cache-from "$cache_ref"
  registry_note=
fi

# linux/arm64 under QEMU: cold, then the same requirement added.
arm64_image=dockgen-test/bookworm-python:3.11-arm64
arm64_note=
if [ "$(uname -m)" = aarch64 ]; then
  arm64_note="arm64 rows skipped: this machine is arm64 (no emulation to measure)"
elif ! api -f "http://localhost/v1.41/images/$arm64_image/json" >/dev/null 2>&1; then
  arm64_note="arm64 rows skipped: no $arm64_image (bash scripts/base-image.sh $arm64_image arm64)"
elif ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  arm64_note="arm64 rows skipped: QEMU's aarch64 handler is not registered (update-binfmts --enable qemu-aarch64)"
else
  mkdir -p "$work/ex-arm64"
  cp examples/$example/requirements.in examples/$example/base.in "$work/ex-arm64/"
  bprofile=$PWD/bench/profiles/arm64-local.yaml
  bname=arm64-local
  ex=$work/ex-arm64
  prune
  dockgen_build arm64-cold
  echo "$added" >>"$work/ex-arm64/requirements.in"
  dockgen_build arm64-added
fi

printf '%-16s %26s   %26s   %26s\n' '' 'time, s' 'sent to the engine, MB' 'image, MB'
printf '%-16s %8s %8s %8s   %8s %8s %8s   %8s %8s %8s\n' case dockgen baseline ratio dockgen baseline ratio dockgen baseline ratio
for c in "${cases[@]}"; do
  sd=$((${sent_ctx[dockgen,$c]} + ${sent_srv[dockgen,$c]}))
  sb=$((${sent_ctx[baseline,$c]} + ${sent_srv[baseline,$c]}))
  printf '%-16s %8s %8s %8s   %8s %8s %8s   %8s %8s %8s\n' "${label[$c]}" \
    "${secs[dockgen,$c]}" "${secs[baseline,$c]}" "$(ratio "${secs[dockgen,$c]}" "${secs[baseline,$c]}")" \
    "$(mb $sd)" "$(mb $sb)" "$(ratio $sd $sb)" \
    "$(mb "${size[dockgen,$c]}")" "$(mb "${size[baseline,$c]}")" "$(ratio "${size[dockgen,$c]}" "${size[baseline,$c]}")"
done
verdict() { python3 -c "print('met' if $1 else 'MISSED')"; }
echo "dockgen +1 requirement / dockgen cold, time: $(ratio "${secs[dockgen,added]}" "${secs[dockgen,cold]}")" \
  "(target: at most 0.33x): $(verdict "${secs[dockgen,added]} <= ${secs[dockgen,cold]} / 3")"
echo "dockgen image / baseline image, +1 requirement: $(ratio "${size[dockgen,added]}" "${size[baseline,added]}")" \
  "(target: below 1): $(verdict "${size[dockgen,added]} < ${size[baseline,added]}")"
echo "baseline +1 requirement / baseline cold, time: $(ratio "${secs[baseline,added]}" "${secs[baseline,cold]}")"
echo "steps that ran, seconds per stage (BuildKit's own figures; cached steps left out):"
for c in "${cases[@]}"; do
  for tool in dockgen baseline; do
    printf '  %-8s %-16s %s\n' "$tool" "${label[$c]}" "${detail[$tool,$c]}"
  done
done
for tool in dockgen baseline; do
  n=$(python3 "$steps" ran "$work/steps-$tool-warm.json")
  if [ "$n" != 0 ]; then
    echo "WARNING: the warm $tool build ran $n steps: BuildKit's cache did not survive from its cold build" \
      "(another prune or BuildKit's GC on this engine?), so its row is not a warm rebuild; run the bench again"
  fi
done
echo "sent = build context + bytes a loopback index served during the build; context/served, MB:"
for c in "${cases[@]}"; do
  printf '  %-16s dockgen %s/%s   baseline %s/%s\n' "${label[$c]}" \
    "$(mb "${sent_ctx[dockgen,$c]}")" "$(mb "${sent_srv[dockgen,$c]}")" \
    "$(mb "${sent_ctx[baseline,$c]}")" "$(mb "${sent_srv[baseline,$c]}")"
done
echo "dockgen cold with an empty package store (downloads $(mb "$empty_store_bytes") MB from PyPI first): ${empty_store_secs}s"
if [ -z "$registry_note" ]; then
  echo "dockgen cold, empty build cache, same lock (+1 requirement), pushed before to a registry on loopback:"
  printf '  %-34s %8s s   image %s MB\n' "without --cache-from" "${secs[dockgen,cold-nocache]}" "$(mb "${size[dockgen,cold-nocache]}")"
  printf '  %-34s %8s s   image %s MB   (%s of without)\n' "with --cache-from (registry warm)" "${secs[dockgen,cold-registry]}" \
    "$(mb "${size[dockgen,cold-registry]}")" "$(ratio "${secs[dockgen,cold-registry]}" "${secs[dockgen,cold-nocache]}")"
  for c in cold-nocache cold-registry; do printf '    %-16s %s\n' "$c" "${detail[dockgen,$c]}"; done
else
  echo "$registry_note"
fi
if [ -z "$arm64_note" ]; then
  echo "dockgen, linux/arm64 under QEMU emulation on this $(uname -m) machine (bench/profiles/arm64-local.yaml; no baseline):"
  printf '  %-16s %8s s   image %s MB\n' cold "${secs[dockgen,arm64-cold]}" "$(mb "${size[dockgen,arm64-cold]}")"
  printf '  %-16s %8s s   image %s MB   (%s of cold)\n' "+1 requirement" "${secs[dockgen,arm64-added]}" \
    "$(mb "${size[dockgen,arm64-added]}")" "$(ratio "${secs[dockgen,arm64-added]}" "${secs[dockgen,arm64-cold]}")"
  for c in arm64-cold arm64-added; do printf '    %-16s %s\n' "$c" "${detail[dockgen,$c]}"; done
else
  echo "$arm64_note"
fi
echo "dockgen $("$dockgen" --version | cut -d' ' -f2) (delivery: $delivery), $example + $added, base image $base_image; one run per cell;" \
  "dockgen time = dockgen lock + dockgen build; cold = BuildKit cache emptied (docker builder prune -af), dockgen's package store warm"
