#!/usr/bin/env bash
# bench/build.sh against a second Docker engine on this machine whose storage driver is
# overlay2, for the figures the README gives beside the machine's own engine's (which
# runs fuse-overlayfs: each new layer's diff walks the whole file system, about a
# second per layer whatever its size).
#
# Starts `dockerd` with overlay2 on its own socket, data root, exec root and bridge
# (never touching the main engine's docker0), loads the base images from the main
# engine into it, runs bench/build.sh with DOCKER_HOST pointing at it, then stops it and
# deletes its data root, whatever happened.
#
# Usage: bench/overlay2-engine.sh     (root; the main engine running with the base
#                                      images of scripts/base-image.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

name=dockgen-bench-overlay2
root=/var/lib/$name
exec_root=/run/$name
sock=/run/$name.sock
bridge=dgbench0
images=(dockgen-test/bookworm-python:3.11 dockgen-test/bookworm-python:3.11-arm64)

say() { echo "overlay2-engine: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (it starts dockerd)"; exit 1; }
command -v dockerd >/dev/null || { say "no dockerd on PATH"; exit 1; }
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
  { say "the kernel has no overlay file system"; exit 1; }

# Another run (or what a killed one left): touch nothing of it.
if [ -e "$sock" ] || [ -e "$root" ] || ip link show "$bridge" >/dev/null 2>&1; then
  say "$sock, $root or the bridge $bridge exists: another run is going, or a killed one left them (stop its dockerd, then remove them)"
  exit 1
fi

pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  ip link delete "$bridge" 2>/dev/null || true
  rm -rf "$root" "$exec_root" "$sock" "/run/$name.pid" "/tmp/$name.json"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A bridge of its own: with none given, a second dockerd would manage docker0 too.
ip link add "$bridge" type bridge
ip addr add 172.31.255.1/24 dev "$bridge"
ip link set "$bridge" up
# An empty configuration file: /etc/docker/daemon.json names the main engine's
# data root and storage driver.
echo '{}' > "/tmp/$name.json"
dockerd --config-file "/tmp/$name.json" --data-root "$root" --exec-root "$exec_root" \
  --pidfile "/run/$name.pid" -H "unix://$sock" --storage-driver overlay2 \
  --bridge "$bridge" --iptables=false --ip-masq=false > "/tmp/$name.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { say "dockerd stopped: see /tmp/$name.log"; exit 1; }
  sleep 0.2
done
driver=$(DOCKER_HOST=unix://$sock docker info --format '{{.Driver}}')
[ "$driver" = overlay2 ] || { say "the second engine runs $driver, not overlay2"; exit 1; }
present=()
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 && present+=("$image")
done
[ ${#present[@]} -gt 0 ] || { say "the main engine has no base image: run scripts/base-image.sh"; exit 1; }
say "loading ${present[*]} into the overlay2 engine"
docker save "${present[@]}" | DOCKER_HOST=unix://$sock docker load >/dev/null
say "engine ready (overlay2); running bench/build.sh against it"
DOCKER_HOST=unix://$sock bash bench/build.sh
