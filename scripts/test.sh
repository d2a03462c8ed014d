#!/usr/bin/env bash
# The one command that runs Cairn's tests on a fresh machine: installs what is
# missing, then runs the whole workspace's tests (unit, property, crash,
# simulation and multi-process tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"  # rustup installed by setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
exec cargo test --workspace "$@"
