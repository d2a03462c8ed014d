# shellcheck shell=bash
# The fault commands of scripts/testnet.sh, sourced by it (docs/FAULTS.md).
#
# Network faults (partition, isolate, loss, throttle) need the namespaced
# layout of lib/netns.sh, so root; process faults (pause, resume, skew) work
# in either layout. The faults in force are kept in $DIR/faults, one a line:
#
#   partition 0,1 2,3     the groups; each reaches only itself
#   isolate I             node I reaches no other node
#   loss I PCT            node I's link drops PCT% of packets each way
#   throttle I RATE       node I's link is shaped to RATE each way (tc tbf)
#   pause I               node I is stopped with SIGSTOP
#   skew I SECONDS        node I runs with its wall clock shifted (libfaketime)
#
# Every network fault is one nftables table, `inet cairn_faults`, inside each
# affected node's namespace, rebuilt whole from this file on every change
# (`nft -f` replaces it atomically), and tbf qdiscs on both ends of the node's
# veth. Traffic with the host's bridge address is never dropped: the RPC is
# the operator's view of the network, not part of the network under test.
#
# Uses DIR, N, HOMES, ME, die, say and the node helpers of testnet.sh.

FAULTS="$DIR/faults"
NFT_TABLE="cairn_faults"

fault_lines() { if [ -f "$FAULTS" ]; then cat "$FAULTS"; fi; }

# fault_arg KIND I: the argument of fault KIND on node I ("" if none).
fault_arg() { fault_lines | awk -v k="$1" -v i="$2" '$1 == k && $2 == i { print $3; exit }'; }
fault_has() { fault_lines | awk -v k="$1" -v i="$2" '$1 == k && $2 == i { f = 1 } END { exit !f }'; }

# fault_drop KIND [I]: forgets fault KIND on node I (on every node without I).
fault_drop() {
  [ -f "$FAULTS" ] || return 0
  awk -v k="$1" -v i="${2:-}" '!($1 == k && (i == "" || $2 == i))' "$FAULTS" >"$FAULTS.tmp"
  mv "$FAULTS.tmp" "$FAULTS"
}

# fault_put KIND I [ARG]: records a fault, replacing KIND on node I.
fault_put() {
  fault_drop "$1" "$2"
  echo "$*" >>"$FAULTS"
}

partition_groups() { fault_lines | awk '$1 == "partition" { for (j = 2; j <= NF; j++) print $j }'; }

# The IPs node I must not exchange packets with, one a line.
# Under a partition two nodes reach each other when some group holds both
# (groups may overlap: a node in two groups is a bridge between them).
cut_peers() {
  local i="$1" j k cut together
  local -a groups
  mapfile -t groups < <(partition_groups)
  for ((j = 0; j < N; j++)); do
    [ "$j" -eq "$i" ] && continue
    cut=0
    if fault_has isolate "$i" || fault_has isolate "$j"; then cut=1; fi
    if [ ${#groups[@]} -gt 0 ]; then
      together=0
      for ((k = 0; k < ${#groups[@]}; k++)); do
        case ",${groups[$k]}," in *",$i,"*) case ",${groups[$k]}," in *",$j,"*) together=1 ;; esac ;; esac
      done
      [ "$together" -eq 1 ] || cut=1
    fi
    [ "$cut" -eq 0 ] || node_ip "$j"
  done
}

# Rebuilds node I's nftables table from the state file (none if no fault).
nft_apply() {
  local i="$1" ns pct set="" chain addr dev
  local -a cut
  ns="$(ns_name "$i")"
  mapfile -t cut < <(cut_peers "$i")
  pct="$(fault_arg loss "$i")"
  if [ ${#cut[@]} -eq 0 ] && [ -z "$pct" ]; then
    ip netns exec "$ns" nft delete table inet "$NFT_TABLE" 2>/dev/null || true
    return 0
  fi
  [ ${#cut[@]} -eq 0 ] || set="$(IFS=,; echo "${cut[*]}")"
  {
    # Declaring, deleting and redefining in one transaction replaces the table atomically.
    echo "table inet $NFT_TABLE"
    echo "delete table inet $NFT_TABLE"
    echo "table inet $NFT_TABLE {"
    for chain in input output; do
      if [ "$chain" = input ]; then addr=saddr dev=iif; else addr=daddr dev=oif; fi
      echo "  chain $chain {"
      echo "    type filter hook $chain priority filter; policy accept;"
      echo "    $dev \"lo\" accept"
      echo "    ip $addr $HOST_IP accept"
      [ -z "$set" ] || echo "    ip $addr { $set } drop"
      if [ "$pct" = 100 ]; then echo "    drop"
      elif [ -n "$pct" ]; then echo "    numgen random mod 100 < $pct drop"; fi
      echo "  }"
    done
    echo "}"
  } | ip netns exec "$ns" nft -f - || die "nft could not load node $i's fault rules in $ns (see above)"
}

nft_apply_all() {
  local i
  for ((i = 0; i < N; i++)); do nft_apply "$i"; done
}

# nftables, like curl, is installed when missing.
need_nft() { need_pkg nft nftables "network faults are nftables rules"; }

# The shared object libfaketime preloads (the thread-safe build: a node is
# multi-threaded); prints its path.
libfaketime() {
  local f
  for f in ${CAIRN_LIBFAKETIME:+"$CAIRN_LIBFAKETIME"} /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
    /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
    /usr/local/lib/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketime.so.1; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

need_libfaketime() {
  libfaketime >/dev/null && return 0
  need_pkg faketime faketime "skew runs a node under libfaketime"
  libfaketime >/dev/null || die "skew needs libfaketime (libfaketimeMT.so.1), and none was found even with the faketime package installed; set CAIRN_LIBFAKETIME to its path"
}

# The environment that starts node I under its skewed clock (nothing if none).
# Only the wall clock moves: the monotonic clock that times rounds is left
# alone, as on a real machine whose clock is set wrong.
skew_env() {
  local s
  s="$(fault_arg skew "$1")"
  [ -n "$s" ] || return 0
  need_libfaketime
  printf '%s\n' env "LD_PRELOAD=$(libfaketime)" "FAKETIME=$(signed "$s")s" FAKETIME_DONT_FAKE_MONOTONIC=1
}

signed() { if [ "$1" -ge 0 ]; then echo "+$1"; else echo "$1"; fi; }

# Whether process PID is stopped (SIGSTOP).
is_stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }

# Node I's faults, for `status`: comma-separated, "-" if none.
faults_of() {
  local i="$1" out=() a g
  fault_has isolate "$i" && out+=(isolated)
  for g in $(partition_groups); do
    case ",$g," in *",$i,"*) out+=("group=$g") ;; esac
  done
  a="$(fault_arg loss "$i")"; [ -z "$a" ] || out+=("loss=$a%")
  a="$(fault_arg throttle "$i")"; [ -z "$a" ] || out+=("throttle=$a")
  fault_has pause "$i" && out+=(paused)
  a="$(fault_arg skew "$i")"; [ -z "$a" ] || out+=("skew=$(signed "$a")s")
  if [ ${#out[@]} -eq 0 ]; then echo -; else (IFS=,; echo "${out[*]}"); fi
}

faults_footer() {
  local groups
  groups="$(partition_groups | tr '\n' ' ')"
  [ -z "$groups" ] || say "partition: ${groups% } (each group reaches only itself; every node still answers the host)"
}

# --- commands ---------------------------------------------------------------

cmd_partition() {
  load_manifest
  [ $# -ge 2 ] || die "usage: $ME partition GROUP GROUP... (e.g. partition 0,1 2,3: nodes 0 and 1 reach each other, 2 and 3 each other, and no more; a node in two groups bridges them: partition 0,1,2 2,3)"
  need_netns partition
  need_nft
  local g j seen="," line="partition" group
  for g in "$@"; do
    [[ "$g" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "partition: '$g' is not a group (node numbers separated by commas, e.g. 0,1)"
    group=""
    for j in ${g//,/ }; do
      check_node "$j"
      j=$((10#$j))
      case ",$group," in *",$j,"*) die "partition: node $j is named twice in group '$g'" ;; esac
      seen="$seen$j,"
      group="${group:+$group,}$j"
    done
    line="$line $group"
  done
  for ((j = 0; j < N; j++)); do
    case "$seen" in *",$j,"*) ;; *) die "partition: node $j is in no group; name every node (a node alone is a group of one, e.g. partition 0,1 2 3)" ;; esac
  done
  fault_drop partition
  echo "$line" >>"$FAULTS"
  nft_apply_all
  say "partitioned: ${line#partition } (each group reaches only itself; \`$ME heal\` undoes it)"
}

cmd_isolate() {
  [ $# -eq 1 ] || die "usage: $ME isolate I"
  load_manifest
  check_node "$1"
  need_netns isolate
  need_nft
  fault_put isolate "$1"
  nft_apply_all
  say "node $1 isolated: it reaches no other node (the host still reaches its RPC)"
}

cmd_loss() {
  [ $# -eq 2 ] || die "usage: $ME loss I PCT (drop PCT% of node I's packets each way; 0 ends it)"
  load_manifest
  check_node "$1"
  { [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -le 100 ]; } || die "loss: PCT must be a whole number from 0 to 100, got '$2'"
  need_netns loss
  need_nft
  if [ "$2" -eq 0 ]; then fault_drop loss "$1"; else fault_put loss "$1" "$((10#$2))"; fi
  nft_apply "$1"
  say "node $1 loses $((10#$2))% of its packets to and from its peers, each way"
}

# Bits per second of a tc rate (NUMBER then bit, kbit, mbit or gbit).
rate_bits() {
  [[ "$1" =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]] || return 1
  local n="${BASH_REMATCH[1]}"
  case "${BASH_REMATCH[2]}" in
    bit) echo "$n" ;;
    kbit) echo $((n * 1000)) ;;
    mbit) echo $((n * 1000000)) ;;
    gbit) echo $((n * 1000000000)) ;;
  esac
}

tc_clear() {
  ip netns exec "$(ns_name "$1")" tc qdisc del dev eth0 root 2>/dev/null || true
  tc qdisc del dev "$(veth_name "$1")" root 2>/dev/null || true
}

cmd_throttle() {
  [ $# -eq 2 ] || die "usage: $ME throttle I RATE (e.g. 1mbit, 256kbit; off ends it)"
  load_manifest
  check_node "$1"
  need_netns throttle
  if [ "$2" = off ]; then
    tc_clear "$1"
    fault_drop throttle "$1"
    say "node $1's link is no longer throttled"
    return 0
  fi
  local bits burst
  bits="$(rate_bits "$2")" || die "throttle: RATE must be a number followed by bit, kbit, mbit or gbit (tc's units, bits per second), e.g. 1mbit; got '$2'"
  [ "$bits" -ge 8000 ] || die "throttle: $2 is below 8kbit, too slow to carry even the pings that keep connections up"
  # A bucket of 10 ms at the rate, at least 4 KiB (a few full packets);
  # packets that would wait more than 400 ms in the queue are dropped.
  burst=$((bits / 8 / 100))
  [ "$burst" -ge 4096 ] || burst=4096
  ip netns exec "$(ns_name "$1")" tc qdisc replace dev eth0 root tbf rate "$2" burst "$burst" latency 400ms \
    || die "tc could not add a tbf qdisc in $(ns_name "$1") (see above)"
  tc qdisc replace dev "$(veth_name "$1")" root tbf rate "$2" burst "$burst" latency 400ms \
    || die "tc could not add a tbf qdisc on $(veth_name "$1") (see above)"
  fault_put throttle "$1" "$2"
  say "node $1's link is throttled to $2 each way (tc tbf on eth0 in $(ns_name "$1") and on $(veth_name "$1"))"
}

cmd_pause() {
  [ $# -eq 1 ] || die "usage: $ME pause I"
  load_manifest
  check_node "$1"
  local pid
  pid="$(node_pid "$1")" || die "node $1 is not running"
  kill -STOP "$pid"
  fault_put pause "$1"
  say "node $1 paused (SIGSTOP to pid $pid): it neither answers nor sends; \`$ME resume $1\` continues it"
}

cmd_resume() {
  [ $# -eq 1 ] || die "usage: $ME resume I"
  load_manifest
  check_node "$1"
  local pid
  pid="$(node_pid "$1")" || { fault_drop pause "$1"; die "node $1 is not running"; }
  kill -CONT "$pid"
  fault_drop pause "$1"
  say "node $1 resumed (SIGCONT to pid $pid)"
}

cmd_skew() {
  [ $# -eq 2 ] || die "usage: $ME skew I SECONDS (node I restarts with its clock SECONDS ahead, or behind if negative; 0 ends it)"
  load_manifest
  check_node "$1"
  [[ "$2" =~ ^[+-]?[0-9]{1,9}$ ]] || die "skew: SECONDS must be a whole number of seconds, e.g. 30 or -30, at most 9 digits; got '$2'"
  local s=$((10#${2#[+-]}))
  [ "${2:0:1}" != - ] || s=$((-s))
  if [ "$s" -eq 0 ]; then fault_drop skew "$1"; else need_libfaketime; fault_put skew "$1" "$s"; fi
  if stop_node "$1"; then say "node $1 stopped"; fi
  CMD=skew cmd_start "$1"
  if [ "$s" -eq 0 ]; then say "node $1 runs on the host's clock"; else say "node $1 runs with its clock $(signed "$s") s off the host's"; fi
}

# heal I: undoes the faults of node I only (isolation, loss, throttling,
# pause, skew). A partition concerns every node, so it stays; say so.
heal_node() {
  local i="$1" pid undone=()
  check_node "$i"
  if fault_has isolate "$i" || fault_has loss "$i" || fault_has throttle "$i"; then
    is_root || die "heal $i needs root: its faults are nftables rules and qdiscs in its network namespace"
    fault_has isolate "$i" && undone+=(isolation)
    fault_has loss "$i" && undone+=(loss)
    fault_has throttle "$i" && { tc_clear "$i"; undone+=(throttling); }
    fault_drop isolate "$i"
    fault_drop loss "$i"
    fault_drop throttle "$i"
    # An isolation also shows in the other nodes' tables.
    nft_apply_all
  fi
  if fault_has pause "$i"; then
    if pid="$(node_pid "$i")"; then kill -CONT "$pid"; fi
    fault_drop pause "$i"
    undone+=(pause)
  fi
  if fault_has skew "$i"; then
    fault_drop skew "$i"
    undone+=(skew)
    if node_pid "$i" >/dev/null; then
      stop_node "$i"
      CMD=heal cmd_start "$i"
    fi
  fi
  local list
  list="$(IFS=,; echo "${undone[*]}")"
  if [ ${#undone[@]} -eq 0 ]; then say "healed node $i: no fault of its own was in force"; else say "healed node $i: ${list//,/, }"; fi
  [ -z "$(partition_groups)" ] || say "the partition ($(fault_lines | awk '$1 == "partition" { $1 = ""; print substr($0, 2) }')) stays: it concerns every node; \`$ME heal\` ends it"
}

# Undoes every fault: network rules and qdiscs, pauses, skews.
cmd_heal() {
  [ $# -le 1 ] || die "usage: $ME heal [I]"
  load_manifest
  if [ $# -eq 1 ]; then heal_node "$1"; return; fi
  local i pid undone=()
  if netns_layout; then
    is_root || die "heal needs root: the faults are nftables rules and qdiscs in the testnet's network namespaces"
    load_netns
    for ((i = 0; i < N; i++)); do
      [ -e "/run/netns/$(ns_name "$i")" ] || continue
      ip netns exec "$(ns_name "$i")" nft delete table inet "$NFT_TABLE" 2>/dev/null || true
      tc_clear "$i"
    done
    [ -z "$(fault_lines | awk '$1 != "pause" && $1 != "skew"')" ] || undone+=(network)
  fi
  fault_drop partition
  fault_drop isolate
  fault_drop loss
  fault_drop throttle
  for i in $(fault_lines | awk '$1 == "pause" { print $2 }'); do
    if pid="$(node_pid "$i")"; then kill -CONT "$pid"; fi
    undone+=("pause $i")
  done
  fault_drop pause
  for i in $(fault_lines | awk '$1 == "skew" { print $2 }'); do
    fault_drop skew "$i"
    undone+=("skew $i")
    if node_pid "$i" >/dev/null; then
      stop_node "$i"
      CMD=heal cmd_start "$i"
    fi
  done
  rm -f "$FAULTS"
  local list
  list="$(IFS=,; echo "${undone[*]}")"
  if [ ${#undone[@]} -eq 0 ]; then say "healed: no fault was in force"; else say "healed: ${list//,/, }"; fi
}
