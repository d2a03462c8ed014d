#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build Cairn:
# libclang (RocksDB's bindings are generated with bindgen; see
# lib/build-tools.sh), a C++ compiler, Rust, and the rustfmt/clippy
# components; and what the fault commands of scripts/testnet.sh (and their
# test) use: iproute2 (ip, tc), nftables and libfaketime (docs/FAULTS.md).
# Safe to run again; does nothing when everything is present.
set -euo pipefail
# shellcheck source=lib/build-tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/build-tools.sh"

need=()
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
cairn_find_libclang >/dev/null || need+=(libclang-dev)
{ command -v ip && command -v tc; } >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null || need+=(faketime)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  if ! lib=$(cairn_find_libclang); then
    echo "setup: installed ${need[*]} but still found no libclang.so that bindgen can load;" >&2
    echo "setup: install libclang (Debian/Ubuntu: libclang-dev) or set LIBCLANG_PATH to its directory" >&2
    exit 1
  fi
  echo "setup: bindgen will use $lib"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; installing Rust with rustup (https://rustup.rs)"
  command -v curl >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO apt-get install -y -qq curl >/dev/null; }
  if ! curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >/dev/null; then
    echo "setup: could not install Rust. Install it with rustup (https://rustup.rs) and run this again." >&2
    exit 1
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
  echo "setup: Rust installed; new shells find it after: source \"\$HOME/.cargo/env\""
fi
if command -v rustup >/dev/null 2>&1; then
  # Read the list whole: `rustup ... | grep -q` can die of SIGPIPE under pipefail.
  components=$(rustup component list --installed 2>/dev/null || true)
  grep -q '^rustfmt' <<<"$components" || rustup component add rustfmt
  grep -q '^clippy' <<<"$components" || rustup component add clippy
fi
