#!/usr/bin/env bash
# The test command the README documents: unit tests, loopback-index integration
# tests, and the tests that lock the examples against PyPI and install the locks
# into fresh virtual environments with real pip.
#
# First it makes ready what the tests need besides Rust (scripts/test-deps.sh: uv and
# hadolint pinned into .test-tools/, Debian's python3-venv and chromium, the build
# tests' base image), each step skipped when done; then .test-tools/bin goes first on
# PATH, which is where the tests find `uv` and `hadolint`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
export PATH="$PWD/.test-tools/bin:$PATH"
cargo test --locked --all-targets "$@"
