#!/usr/bin/env bash
# The test command the README documents: unit tests, loopback-index integration
# tests, and the tests that lock the examples against PyPI and install the locks
# into fresh virtual environments with real pip.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets "$@"
