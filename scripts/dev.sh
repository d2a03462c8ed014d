#!/usr/bin/env bash
# The one command that starts Cairn on a fresh machine: installs what is
# missing, builds the `cairn` binary, and runs a one-validator dev chain
# (RPC on 127.0.0.1:8545 unless --rpc-port is given). Extra arguments go to
# `cairn dev`. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"  # rustup installed by setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
cargo build -p cairn-node
exec "$CARGO_TARGET_DIR/debug/cairn" dev "$@"
