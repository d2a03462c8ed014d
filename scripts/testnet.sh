#!/usr/bin/env bash
# A local multi-validator Cairn testnet: start it, look at it, break it, load
# it, audit it. Run `scripts/testnet.sh help` for the commands.
#
# As root, each validator runs in its own network namespace on a bridge, and
# the network between them can be broken for real: partitions, isolation,
# packet loss, slow links (nftables, tc); without root every node runs on
# 127.0.0.1. Either way nodes can be killed, paused and run with a skewed
# clock (libfaketime). docs/FAULTS.md describes the layout and each fault.
#
# Environment:
#   CAIRN_TESTNET_DIR        where the testnet lives (default ~/.cairn/testnet)
#   CAIRN_TESTNET_BASE_PORT  first port of `up` (default 26600; node i uses
#                            base+2i for peers, base+2i+1 for RPC and
#                            base+2N+i for metrics; 0 = free ports)
#   CAIRN_TESTNET_ROUND_TIMEOUT_MS  round timeout written to the genesis
#   CAIRN_TESTNET_NETNS      auto (default: one namespace per node when root),
#                            1 (required) or 0 (127.0.0.1); fixed at creation
#   CAIRN_BIN                the cairn binary to run (default: build it)
#   CAIRN_PROFILE            dev (default) or release, when building
#   CARGO_TARGET_DIR         build directory (default ~/.cache/cairn/target)
#
# Needs bash, curl (installed with apt-get if missing) and coreutils; no jq
# or python. The faults need iproute2 and nftables (root) and libfaketime
# (skew), installed the same way when missing. JSON is read with sed: the node's replies and `cairn` output
# are machine-written.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CAIRN_TESTNET_DIR:-$HOME/.cairn/testnet}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
BASE_PORT="${CAIRN_TESTNET_BASE_PORT:-26600}"
HEALTH_TIMEOUT=60
LIVE_TIMEOUT=90
STOP_TIMEOUT=30
ME="scripts/testnet.sh"

usage() {
  cat <<EOF
usage: $ME <command> [args]

  up [N]           create (if needed) and start an N-validator testnet (default 4),
                   wait until it commits, print RPC URLs and funded key files
  status           per node: pid, state, height, round, peers, mempool, RPC,
                   faults in force; then the partition, if any
  logs I [-f]      the last 100 lines of node I's log (-f: follow)
  kill I           SIGKILL node I (a crash)
  stop I           SIGTERM node I and wait for a clean exit
  restart I        stop node I if running, start it, wait until it catches up
  start I          start a stopped node I
  load [ARGS]      run \`cairn bench\` against every running node not paused or cut
                   off, with a funded key (default --rate 1000 --duration 10;
                   ARGS go to cairn bench, see \`cairn bench --help\`)
  audit            audit every node's chain up to a common height (\`cairn audit\`:
                   over RPC for running nodes, from the data directory for stopped
                   ones) and check that all agree on the tip hash and state root
  down             stop every node (data kept; \`up\` resumes it); end every fault
                   and remove the network namespaces
  reset            down, then delete the testnet directory

faults (network ones need root: each node in its own network namespace):
  partition G G..  split the nodes into groups, e.g. partition 0,1 2,3; each
                   group reaches only itself (nftables drops the rest); a node
                   in two groups bridges them (partition 0,1,2 2,3)
  isolate I        node I reaches no other node
  loss I PCT       node I's link drops PCT% of packets each way (0 ends it)
  throttle I RATE  node I's link is limited to RATE each way (tc tbf; e.g.
                   1mbit, 256kbit; off ends it)
  pause I          SIGSTOP node I;  resume I: SIGCONT it
  skew I SECONDS   restart node I with its wall clock SECONDS off (libfaketime;
                   negative = behind; 0 ends it); kept across restart
  heal [I]         undo every fault above (down undoes them too); with I, only
                   node I's own (isolation, loss, throttle, pause, skew)

  chaos [--duration S] [--seed N] [--rate R] [--bound S] [--out DIR]
                   a nemesis run: a seeded random schedule of the faults above
                   and kill -9 (one at a time, so at most f nodes are down)
                   under steady \`cairn bench\` load with resubmission; then
                   heal, audit every node, check that no validator
                   equivocated, nothing acknowledged was lost and commits
                   resumed within --bound s (default 15) after every heal;
                   writes report.txt, report.json and timeline.svg to --out
                   (default $DIR/chaos-SEED); exits 1 on a violation.
                   The same seed replays the same schedule (--plan-only
                   prints it and exits)
  The host's RPC traffic to every node is never cut: it is the operator's view.

testnet directory: $DIR (set CAIRN_TESTNET_DIR to change)
EOF
}

die() { echo "$ME: $*" >&2; exit 1; }
say() { echo "$*"; }

# --- the cairn binary -------------------------------------------------------

# shellcheck source=lib/build-tools.sh
. "$ROOT/scripts/lib/build-tools.sh"
# shellcheck source=lib/netns.sh
. "$ROOT/scripts/lib/netns.sh"
# shellcheck source=lib/faults.sh
. "$ROOT/scripts/lib/faults.sh"
# shellcheck source=lib/chaos.sh
. "$ROOT/scripts/lib/chaos.sh"

# Sets BIN. With "build", runs cargo (a no-op when up to date); otherwise
# reuses the binary the testnet was started with, building only if none exists.
find_bin() {
  if [ -n "${CAIRN_BIN:-}" ]; then
    [ -x "$CAIRN_BIN" ] || die "CAIRN_BIN=$CAIRN_BIN is not an executable file"
    BIN="$CAIRN_BIN"
    return
  fi
  if [ "${1:-}" != build ] && [ -f "$DIR/.cairn-bin" ]; then
    BIN="$(cat "$DIR/.cairn-bin")"
    [ -x "$BIN" ] && return
  fi
  local target="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}" profile flags=()
  case "${CAIRN_PROFILE:-dev}" in
    dev|debug) profile=debug ;;
    release) profile=release; flags=(--release) ;;
    *) die "CAIRN_PROFILE=${CAIRN_PROFILE} is not dev or release" ;;
  esac
  BIN="$target/$profile/cairn"
  if [ "${1:-}" = build ] || [ ! -x "$BIN" ]; then
    cairn_have_build_tools || "$ROOT/scripts/setup.sh"
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    if [ ! -x "$BIN" ]; then
      echo "building cairn ($profile) in $target"
      echo "the first build compiles RocksDB and libp2p from source: about half an hour on a two-core machine; later builds take seconds"
    else
      echo "building cairn ($profile) in $target (a no-op when up to date)"
    fi
    (cd "$ROOT" && CARGO_TARGET_DIR="$target" cargo build -p cairn-node --bin cairn "${flags[@]}") \
      || die "building cairn failed (see above)"
  fi
}

# --- the testnet directory --------------------------------------------------

need_testnet() {
  [ -f "$DIR/testnet.json" ] || die "no testnet in $DIR; create one with: $ME up [N]"
}

# Values of a string field of testnet.json, one per line, in order.
manifest() { tr -d '\n' <"$DIR/testnet.json" | grep -o "\"$1\": *\"[^\"]*\"" | sed 's/.*: *"\(.*\)"/\1/'; }

load_manifest() {
  need_testnet
  mapfile -t HOMES < <(manifest home)
  mapfile -t RPCS < <(manifest rpc)
  mapfile -t KEYS < <(manifest keyFile)
  mapfile -t ADDRS < <(manifest address)
  N=${#HOMES[@]}
  { [ "$N" -gt 0 ] && [ "${#RPCS[@]}" -eq "$N" ]; } || die "$DIR/testnet.json is not a testnet summary written by \`cairn testnet\`"
  if netns_layout; then load_netns; fi
}

check_node() {
  [[ "${1:-}" =~ ^(0|[1-9][0-9]*)$ ]] || die "expected a node number, got '${1:-}' (nodes are 0..$((N - 1)))"
  [ "$1" -lt "$N" ] || die "no node $1: this testnet has nodes 0..$((N - 1))"
}

pidfile() { echo "${HOMES[$1]}/node.pid"; }
logfile() { echo "${HOMES[$1]}/node.log"; }

# The pid of node I if it is running (and really is `cairn start` of its home).
node_pid() {
  local f pid args
  f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  else
    args="$(ps -o args= -p "$pid" 2>/dev/null)" || return 1
  fi
  case "$args" in
    *cairn*" start --home ${HOMES[$1]} "*|*cairn*" start --home ${HOMES[$1]}") echo "$pid" ;;
    *) return 1 ;;
  esac
}

running_nodes() {
  local i
  for ((i = 0; i < N; i++)); do node_pid "$i" >/dev/null && echo "$i"; done
  return 0
}

# --- JSON-RPC with curl -----------------------------------------------------

# need_pkg COMMAND PACKAGE WHY: installs PACKAGE with apt-get unless COMMAND
# exists, as scripts/setup.sh installs the build tools.
need_pkg() {
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$1 is required ($3); install $2 with your package manager"
  echo "installing $2 ($3)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null; } \
    || die "installing $2 failed; install it (apt-get install $2) and run this again"
}

# curl talks to the nodes.
need_curl() { need_pkg curl curl "it talks to the nodes"; }

# rpc URL METHOD [PARAMS-JSON]: prints the raw response on one line.
rpc() {
  curl -sS -m 5 -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1" 2>/dev/null | tr -d '\n'
}
json_num() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" | head -n1; }
json_str() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -n1; }
json_bool() { sed -n "s/.*\"$1\": *\(true\|false\).*/\1/p" | head -n1; }

# Node I's committed height, or nothing if it does not answer within curl's
# 5 s: callers say which node and what to do, instead of set -e ending the
# script silently on curl's exit code (7: refused, 28: timed out).
height_of() { { rpc "${RPCS[$1]}" cairn_status || true; } | json_num committedHeight; }

# The highest height at or below $2 whose block on node $1 holds transactions
# (at most 16 blocks down; 0 if none). On an idle chain the last empty blocks
# are known committed only to the validators that saw the QCs after them, so
# a node that restarts into an idle chain may stay a block or two below the
# others until the next transaction: it has caught up once it holds every
# block with transactions.
last_tx_height_of() {
  local j="$1" h="$2" low n
  low=$(( h > 16 ? h - 16 : 0 ))
  while [ "$h" -gt "$low" ]; do
    n="$({ rpc "${RPCS[$j]}" cairn_getBlock "[$h]" || true; } | json_num txCount)"
    [ -n "$n" ] && [ "$n" -gt 0 ] && break
    h=$(( h - 1 ))
  done
  echo "$h"
}

# --- starting and stopping --------------------------------------------------

# Starts node I: in its namespace in the namespaced layout, under its skewed
# clock if it has one. `ip netns exec` and `env` exec, so $! is the node.
start_node() {
  local i="$1" pid skew
  local -a pre=()
  if pid="$(node_pid "$i")"; then die "node $i is already running (pid $pid)"; fi
  if netns_layout; then
    netns_check "$i"
    pre=(ip netns exec "$(ns_name "$i")")
  fi
  fault_drop pause "$i"
  skew="$(fault_arg skew "$i")"
  if [ -n "$skew" ]; then
    need_libfaketime
    mapfile -t -O "${#pre[@]}" pre < <(skew_env "$i")
  fi
  echo "--- started $(date -u +%FT%TZ)${skew:+ with the clock $(signed "$skew") s off} ---" >>"$(logfile "$i")"
  nohup "${pre[@]}" "$BIN" start --home "${HOMES[$i]}" </dev/null >>"$(logfile "$i")" 2>&1 &
  echo $! >"$(pidfile "$i")"
}

wait_gone() {
  local pid="$1" secs="$2" t=0
  while kill -0 "$pid" 2>/dev/null; do
    [ "$t" -ge $((secs * 10)) ] && return 1
    sleep 0.1
    t=$((t + 1))
  done
}

kill_node() {
  local i="$1" pid
  pid="$(node_pid "$i")" || { rm -f "$(pidfile "$i")"; return 1; }
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || die "node $i (pid $pid) survived SIGKILL"
  rm -f "$(pidfile "$i")"
  fault_drop pause "$i"
}

stop_node() {
  local i="$1" pid
  pid="$(node_pid "$i")" || { rm -f "$(pidfile "$i")"; return 1; }
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true # a paused node handles SIGTERM once continued
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    echo "node $i (pid $pid) did not exit within ${STOP_TIMEOUT}s of SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "node $i (pid $pid) survived SIGKILL"
  fi
  rm -f "$(pidfile "$i")"
  fault_drop pause "$i"
}

log_tail() {
  echo "--- last lines of $(logfile "$1") ---" >&2
  tail -n 20 "$(logfile "$1")" >&2 || true
}

# Waits until node I answers /health, then checks that the answer is node
# I's: its process is alive and the RPC serves the genesis in its home.
# Another testnet on the same ports would answer /health too, while our node
# fails to bind and exits. Fails early if the process dies.
wait_health() {
  local i="$1" t=0
  while ! curl -sf -m 2 "${RPCS[$i]}/health" >/dev/null 2>&1; do
    node_pid "$i" >/dev/null || { log_tail "$i"; die "node $i exited during startup (log: $(logfile "$i"))"; }
    [ "$t" -ge $((HEALTH_TIMEOUT * 5)) ] && { log_tail "$i"; die "node $i did not answer ${RPCS[$i]}/health within ${HEALTH_TIMEOUT}s"; }
    sleep 0.2
    t=$((t + 1))
  done
  node_pid "$i" >/dev/null || { log_tail "$i"; die "node $i exited during startup, yet ${RPCS[$i]} answers: another process holds its port ($(port_hint))"; }
  check_genesis "$i"
}

port_hint() {
  echo "another testnet? \`$ME status\` with its CAIRN_TESTNET_DIR shows it; stop it, or create this one with a CAIRN_TESTNET_BASE_PORT clear of its ports (0 = free ports; the ports of an existing testnet are fixed when it is created)"
}

# Dies unless node I's RPC serves the genesis in node I's home, by its hash:
# `cairn audit --to 0` checks the node's cairn_getGenesis and genesis block
# against our genesis.json and prints that hash as the tip; cairn_status must
# report the same one.
check_genesis() {
  local i="$1" out rc want got
  if ! "$BIN" audit --help >/dev/null 2>&1; then
    echo "$ME: this cairn binary ($BIN) has no \`audit\` command; not checking that ${RPCS[$i]} serves node $i's genesis" >&2
    return 0
  fi
  out="$("$BIN" audit --rpc "${RPCS[$i]}" --genesis "${HOMES[$i]}/genesis.json" --to 0 --json 2>/dev/null)" && rc=0 || rc=$?
  out="$(echo "$out" | tr -d '\n')"
  case "$rc" in
    0) want="$(echo "$out" | json_str tipHash)" ;;
    1) log_tail "$i"; die "the node answering ${RPCS[$i]} is not node $i: it is on genesis $(echo "$out" | json_str actual), not $(echo "$out" | json_str expected) of ${HOMES[$i]}/genesis.json; $(port_hint)" ;;
    *) log_tail "$i"; die "could not read the genesis of the node at ${RPCS[$i]} (\`cairn audit --to 0\` exit $rc: $out); see \`$ME logs $i\`" ;;
  esac
  got="$({ rpc "${RPCS[$i]}" cairn_status || true; } | json_str genesisHash)"
  { [ -n "$want" ] && [ "$got" = "$want" ]; } \
    || die "the node answering ${RPCS[$i]} reports genesis ${got:-(no answer)} in cairn_status, but node $i's genesis.json hashes to ${want:-(unknown)}; $(port_hint)"
}

# Waits (up to SECS) until node I's committed height is at least H.
wait_height() {
  local i="$1" h="$2" secs="$3" t=0 got
  while :; do
    got="$(height_of "$i")"
    [ -n "$got" ] && [ "$got" -ge "$h" ] && return 0
    [ "$t" -ge $((secs * 5)) ] && return 1
    sleep 0.2
    t=$((t + 1))
  done
}

# --- commands ---------------------------------------------------------------

cmd_up() {
  local want="${1:-}"
  [ $# -le 1 ] || die "usage: $ME up [N]"
  if [ -n "$want" ]; then
    { [[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -ge 1 ] && [ "$want" -le 64 ]; } \
      || die "up: N must be a number of validators between 1 and 64, got '$want'"
  fi
  need_curl
  if [ -f "$DIR/testnet.json" ]; then
    load_manifest
    local running
    running="$(running_nodes | tr '\n' ' ')"
    [ -z "$running" ] || die "a testnet is already running in $DIR (nodes: ${running% }); see \`$ME status\`, stop it with \`$ME down\` (keeps data) or \`$ME reset\` (deletes it), or run a second one with another CAIRN_TESTNET_DIR and a CAIRN_TESTNET_BASE_PORT clear of this one's ports (the default, 26600, may be the one it uses; 0 = free ports)"
    [ -z "$want" ] || [ "$want" -eq "$N" ] \
      || die "$DIR holds a $N-validator testnet; \`$ME up $N\` resumes it, \`$ME reset\` deletes it, or set CAIRN_TESTNET_DIR for another"
    if netns_layout; then
      is_root || die "this testnet was created as root with one network namespace per validator (its nodes listen on $SUBNET.x); resume it as root, or \`$ME reset\` and create a 127.0.0.1 testnet without root"
    fi
    find_bin build
    say "resuming the $N-validator testnet in $DIR"
  else
    if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
      die "$DIR exists, is not empty and holds no testnet.json; choose another CAIRN_TESTNET_DIR or empty it"
    fi
    find_bin build
    mkdir -p "$(dirname "$DIR")"
    local args=(testnet --validators "${want:-4}" --out "$DIR" --base-port "$BASE_PORT") netns=0
    [ -z "${CAIRN_TESTNET_ROUND_TIMEOUT_MS:-}" ] || args+=(--round-timeout-ms "$CAIRN_TESTNET_ROUND_TIMEOUT_MS")
    if want_netns; then
      netns=1
      need_pkg ip iproute2 "the namespaced layout is made with ip"
      netns_plan "${want:-4}"
      args+=(--listen-ips "$NETNS_IPS")
    fi
    "$BIN" "${args[@]}" >/dev/null || die "\`cairn ${args[*]}\` failed (see above)"
    [ "$netns" -eq 0 ] || write_netns_conf
    load_manifest
  fi
  echo "$BIN" >"$DIR/.cairn-bin"
  # A fresh network has no faults; a skew does not outlive down either.
  rm -f "$FAULTS"
  # On any failure from here on, stop what we started.
  trap 'echo "$ME: up failed; stopping the nodes it started" >&2; for ((j = 0; j < N; j++)); do kill_node "$j" 2>/dev/null || true; done; netns_clean' EXIT
  if netns_layout; then
    netns_up
    netns_describe
  fi
  local i
  for ((i = 0; i < N; i++)); do start_node "$i"; done
  for ((i = 0; i < N; i++)); do wait_health "$i"; done
  wait_live
  trap - EXIT
  summary
}

# An idle chain proposes no blocks (DESIGN §4), so liveness is shown by one
# transfer between funded accounts committing, then reaching every node.
wait_live() {
  local out h i
  [ "${#KEYS[@]}" -ge 2 ] || die "the testnet has fewer than two funded accounts; cannot check liveness with a transfer"
  say "waiting for a transfer to commit (shows the chain is live)"
  out="$("$BIN" tx transfer --rpc "${RPCS[0]}" --key "${KEYS[0]}" --to "${ADDRS[1]}" \
    --amount 1 --memo "testnet.sh liveness" --wait --timeout-secs "$LIVE_TIMEOUT" --json 2>&1)" \
    || { for ((i = 0; i < N; i++)); do log_tail "$i"; done; die "the liveness transfer did not commit: $out"; }
  h="$(echo "$out" | tr -d '\n' | json_num height)"
  [ -n "$h" ] || die "could not read the height from \`cairn tx transfer --json\`: $out"
  for ((i = 0; i < N; i++)); do
    wait_height "$i" "$h" "$LIVE_TIMEOUT" || { log_tail "$i"; die "node $i did not reach height $h within ${LIVE_TIMEOUT}s"; }
  done
  say "live: the transfer committed at height $h on all $N nodes"
}

summary() {
  local i
  say ""
  say "testnet of $N validators in $DIR"
  for ((i = 0; i < N; i++)); do
    say "  node$i  rpc ${RPCS[$i]}  (ws ${RPCS[$i]/http:/ws:})  log $(logfile "$i")"
  done
  say "funded accounts (key files; use with cairn tx transfer --key / cairn bench --key):"
  for ((i = 0; i < ${#KEYS[@]} && i < 4; i++)); do say "  ${KEYS[$i]}"; done
  [ "${#KEYS[@]}" -le 4 ] || say "  ... and $((${#KEYS[@]} - 4)) more in $DIR/accounts"
  say "next: $ME status | load | kill 2 | restart 2 | audit | down"
}

cmd_status() {
  [ $# -eq 0 ] || die "usage: $ME status"
  need_curl
  load_manifest
  local i pid state resp h r p m
  printf '%-5s %-8s %-8s %8s %8s %6s %8s  %-26s %s\n' node pid state height round peers mempool rpc faults
  for ((i = 0; i < N; i++)); do
    h=- r=- p=- m=-
    if pid="$(node_pid "$i")" && is_stopped "$pid"; then
      state=paused # would not answer: not asked
    elif [ -n "$pid" ]; then
      state=running
      resp="$(rpc "${RPCS[$i]}" cairn_status || true)"
      if [ -n "$(echo "$resp" | json_num committedHeight)" ]; then
        h="$(echo "$resp" | json_num committedHeight)"
        r="$(echo "$resp" | json_num round)"
        p="$(echo "$resp" | json_num peers)"
        m="$(echo "$resp" | json_num mempoolSize)"
        [ "$(echo "$resp" | json_bool syncing)" = true ] && state=syncing
      else
        state=no-rpc
      fi
    else
      pid=-
      state=stopped
    fi
    printf '%-5s %-8s %-8s %8s %8s %6s %8s  %-26s %s\n' "$i" "$pid" "$state" "$h" "$r" "$p" "$m" "${RPCS[$i]}" "$(faults_of "$i")"
  done
  if netns_layout; then netns_describe; fi
  faults_footer
}

cmd_logs() {
  load_manifest
  { [ $# -ge 1 ] && [ $# -le 2 ]; } || die "usage: $ME logs I [-f]"
  check_node "$1"
  local f
  f="$(logfile "$1")"
  [ -f "$f" ] || die "node $1 has no log yet ($f)"
  case "${2:-}" in
    "") tail -n 100 "$f" ;;
    -f) tail -n 100 -f "$f" ;;
    *) die "usage: $ME logs I [-f]" ;;
  esac
}

cmd_kill() {
  [ $# -eq 1 ] || die "usage: $ME kill I"
  load_manifest
  check_node "$1"
  kill_node "$1" || die "node $1 is not running"
  say "node $1 killed (SIGKILL)"
}

cmd_stop() {
  [ $# -eq 1 ] || die "usage: $ME stop I"
  load_manifest
  check_node "$1"
  stop_node "$1" || die "node $1 is not running"
  say "node $1 stopped"
}

cmd_start() {
  [ $# -eq 1 ] || die "usage: $ME $CMD I"
  need_curl
  load_manifest
  check_node "$1"
  find_bin
  local i="$1" j top=0 top_node="" h want
  for j in $(running_nodes); do
    h="$(height_of "$j")"
    if [ -z "$h" ]; then
      echo "$ME: node $j is running but did not answer cairn_status at ${RPCS[$j]} within 5s; not waiting for node $i to reach its height (check it with \`$ME status\` and \`$ME logs $j\`)" >&2
      continue
    fi
    if [ "$h" -gt "$top" ]; then top="$h"; top_node="$j"; fi
  done
  # Caught up = every block with transactions (see last_tx_height_of).
  want="$top"
  [ -n "$top_node" ] && want="$(last_tx_height_of "$top_node" "$top")"
  start_node "$i"
  wait_health "$i"
  if wait_height "$i" "$want" "$LIVE_TIMEOUT"; then
    say "node $i is running (pid $(node_pid "$i")) at height $(height_of "$i") (the others were at $top; the last block with transactions at $want)"
  else
    h="$(height_of "$i")"
    say "node $i is running (pid $(node_pid "$i")) but at height ${h:-unknown (no answer to cairn_status)}, below the others' last block with transactions ($want; their tip $top) after ${LIVE_TIMEOUT}s; see \`$ME logs $i\`"
  fi
}

cmd_restart() {
  [ $# -eq 1 ] || die "usage: $ME restart I"
  load_manifest
  check_node "$1"
  if stop_node "$1"; then say "node $1 stopped"; fi
  cmd_start "$1"
}

cmd_load() {
  load_manifest
  find_bin
  local urls="" i rate=1 dur=1 key=1 rpcs=1 a skipped=()
  # A paused node would not answer, and cairn bench waits for every node
  # it submits to to commit the funding block, which a cut-off node never does.
  for i in $(running_nodes); do
    if fault_has pause "$i" || fault_has isolate "$i" || [ "$(fault_arg loss "$i")" = 100 ]; then
      skipped+=("$i")
      continue
    fi
    urls="${urls:+$urls,}${RPCS[$i]}"
  done
  [ -n "$urls" ] || die "no node is running and reachable; start the testnet with \`$ME up\` (or \`$ME heal\`)"
  [ ${#skipped[@]} -eq 0 ] || echo "load: not submitting to node(s) ${skipped[*]} (paused or cut off; see \`$ME status\`)" >&2
  for a in "$@"; do
    case "$a" in
      --rate|--rate=*) rate=0 ;;
      --duration|--duration=*) dur=0 ;;
      --key|--key=*) key=0 ;;
      --rpc|--rpc=*) rpcs=0 ;;
    esac
  done
  local args=(bench)
  [ "$rpcs" -eq 0 ] || args+=(--rpc "$urls")
  [ "$key" -eq 0 ] || args+=(--key "${KEYS[1]:-${KEYS[0]}}")
  [ "$rate" -eq 0 ] || args+=(--rate 1000)
  [ "$dur" -eq 0 ] || args+=(--duration 10)
  "$BIN" "${args[@]}" "$@"
}

# Audits node I up to height H; prints the JSON result (exit status of cairn audit).
audit_one() {
  local i="$1" h="$2"
  if node_pid "$i" >/dev/null; then
    "$BIN" audit --rpc "${RPCS[$i]}" --genesis "${HOMES[0]}/genesis.json" ${h:+--to "$h"} --json
  else
    "$BIN" audit --home "${HOMES[$i]}" ${h:+--to "$h"} --json
  fi
}

cmd_audit() {
  [ $# -eq 0 ] || die "usage: $ME audit"
  need_curl
  load_manifest
  find_bin
  "$BIN" audit --help >/dev/null 2>&1 || die "this cairn binary ($BIN) has no \`audit\` command; rebuild it"
  local i h top="" out rc
  local -a result
  # The common height: the lowest committed height of the running nodes and
  # the lowest tip of the stopped nodes' stores.
  for ((i = 0; i < N; i++)); do
    if node_pid "$i" >/dev/null; then
      h="$(height_of "$i")"
      [ -n "$h" ] || die "node $i is running (pid $(node_pid "$i")) but did not answer cairn_status at ${RPCS[$i]} within 5s, so the common height is unknown; see \`$ME logs $i\`, then \`$ME restart $i\` or \`$ME stop $i\` (a stopped node is audited from its data directory)"
    else
      out="$(audit_one "$i" "" 2>&1)" && rc=0 || rc=$?
      h="$(echo "$out" | tr -d '\n' | json_num toHeight)"
      [ -n "$h" ] || die "auditing stopped node $i's store failed (exit $rc): $out"
    fi
    { [ -z "$top" ] || [ "$h" -lt "$top" ]; } && top="$h"
  done
  say "auditing all $N nodes from genesis to height $top"
  printf '%-5s %-8s %-5s %8s %8s  %-18s %-18s\n' node source ok blocks txs tipHash stateRoot
  local bad=0 tip="" root="" t s ok how
  for ((i = 0; i < N; i++)); do
    how=rpc
    node_pid "$i" >/dev/null || how=home
    out="$(audit_one "$i" "$top" 2>&1)" && rc=0 || rc=$?
    out="$(echo "$out" | tr -d '\n')"
    ok="$(echo "$out" | json_bool ok)"
    t="$(echo "$out" | json_str tipHash)"
    s="$(echo "$out" | json_str stateRoot)"
    printf '%-5s %-8s %-5s %8s %8s  %-18s %-18s\n' "$i" "$how" "${ok:-error}" \
      "$(echo "$out" | json_num blocks)" "$(echo "$out" | json_num transactions)" "${t:0:18}" "${s:0:18}"
    if [ "$rc" -ne 0 ] || [ "$ok" != true ] || [ -z "$t" ]; then
      echo "  node $i: audit failed (exit $rc): $out" >&2
      bad=1
      continue
    fi
    result+=("$i")
    if [ -z "$tip" ]; then tip="$t" root="$s"
    elif [ "$t" != "$tip" ] || [ "$s" != "$root" ]; then
      echo "  node $i disagrees at height $top: tip $t state root $s, node ${result[0]} has tip $tip state root $root" >&2
      bad=1
    fi
  done
  [ "$bad" -eq 0 ] || die "audit failed: see above"
  say "all $N nodes agree at height $top: tip $tip, state root $root"
}

# Stops every node, then removes the network (namespaces, veths, bridge, and
# with them every nftables rule and qdisc) by name prefix, whatever the state
# file says, and forgets every fault.
cmd_down() {
  [ $# -eq 0 ] || die "usage: $ME down"
  if [ ! -f "$DIR/testnet.json" ]; then
    netns_clean_all
    say "no testnet in $DIR; nothing to stop"
    return 0
  fi
  load_manifest
  if netns_layout && ! is_root; then
    die "down needs root: this testnet's nodes run in network namespaces created as root, which only root can signal and remove"
  fi
  local i pid pids=() n=0
  for i in $(running_nodes); do
    pid="$(node_pid "$i")"
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
    pids+=("$i")
  done
  for i in "${pids[@]}"; do
    stop_node "$i" 2>/dev/null || true
    n=$((n + 1))
  done
  netns_clean_all
  rm -f "$FAULTS"
  local net=""
  netns_layout && net="; network namespaces, bridge, rules and qdiscs removed"
  say "stopped $n node(s)$net; data kept in $DIR (\`$ME up\` resumes, \`$ME reset\` deletes)"
}

cmd_reset() {
  [ $# -eq 0 ] || die "usage: $ME reset"
  if [ ! -e "$DIR" ]; then say "$DIR does not exist; nothing to reset"; return 0; fi
  [ -f "$DIR/testnet.json" ] || [ -z "$(ls -A "$DIR")" ] \
    || die "$DIR does not look like a testnet directory (no testnet.json); not deleting it"
  cmd_down
  rm -rf -- "$DIR"
  say "deleted $DIR"
}

CMD="${1:-}"
[ $# -eq 0 ] || shift
case "$CMD" in
  up) cmd_up "$@" ;;
  status) cmd_status "$@" ;;
  logs) cmd_logs "$@" ;;
  kill) cmd_kill "$@" ;;
  stop) cmd_stop "$@" ;;
  start) cmd_start "$@" ;;
  restart) cmd_restart "$@" ;;
  load) cmd_load "$@" ;;
  audit) cmd_audit "$@" ;;
  down) cmd_down "$@" ;;
  reset) cmd_reset "$@" ;;
  partition) cmd_partition "$@" ;;
  isolate) cmd_isolate "$@" ;;
  loss) cmd_loss "$@" ;;
  throttle) cmd_throttle "$@" ;;
  pause) cmd_pause "$@" ;;
  resume) cmd_resume "$@" ;;
  skew) cmd_skew "$@" ;;
  heal) cmd_heal "$@" ;;
  chaos) cmd_chaos "$@" ;;
  help|-h|--help) usage ;;
  "") usage >&2; exit 2 ;;
  *) echo "$ME: unknown command '$CMD'" >&2; usage >&2; exit 2 ;;
esac
