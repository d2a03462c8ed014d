# shellcheck shell=bash
# `scripts/testnet.sh chaos`: a nemesis run in the spirit of Jepsen, sourced
# by testnet.sh (docs/FAULTS.md, "Chaos").
#
# A seeded schedule of faults, one at a time, each held for a few seconds and
# healed before the next after a quiet gap, while `cairn bench` offers steady
# load and resubmits what is refused or lost. One fault at a time keeps at
# most f nodes crashed, paused or cut off, except in the majority partitions,
# which take the quorum away on purpose (liveness is then judged after the
# heal). Then: heal, restart what is down, let the load drain, audit every
# node, read every node's equivocation counter, and hand the rest to
# `cairn chaos-check` (nothing lost; commits resume within the bound after
# every heal; the report and the SVG timeline).
#
# The schedule depends only on the seed and the number of nodes (bash's
# RANDOM, seeded), and is written to schedule.txt before it starts.
#
# Uses the helpers of testnet.sh and lib/faults.sh.

# now_ms: wall-clock milliseconds since the epoch.
now_ms() { date +%s%3N; }

# Every draw from the seeded RANDOM happens in this shell, never in a
# $(...) subshell: bash reseeds RANDOM in subshells, which would make the
# schedule differ from run to run.

# rand_in LO HI: sets R to a number in [LO, HI].
rand_in() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }

# Sets PERM to a random permutation of 0..N-1.
shuffle_nodes() {
  local i j t
  PERM=()
  for ((i = 0; i < N; i++)); do PERM[i]=$i; done
  for ((i = N - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    t=${PERM[i]}; PERM[i]=${PERM[j]}; PERM[j]=$t
  done
}

# The quorum of N equal-power validators: N - f, f = (N - 1) / 3.
quorum_of() { echo $(($1 - ($1 - 1) / 3)); }

# chaos_plan DURATION NETWORK: prints the schedule, one fault a line:
#   AT HOLD KIND ARGS...
# AT is seconds after the start of the faults, HOLD how long it lasts.
chaos_plan() {
  local total="$1" network="$2" at=0 hold kind i a b rest q sign R
  local -a kinds perm PERM
  q="$(quorum_of "$N")"
  kinds=(kill pause skew)
  if [ "$network" = 1 ]; then
    kinds+=(isolate partition-majority partition-minority bridge flap loss throttle kill)
  fi
  while :; do
    rand_in 3 7
    at=$((at + R))
    kind="${kinds[RANDOM % ${#kinds[@]}]}"
    rand_in 4 10
    hold=$R
    [ $((at + hold)) -le "$total" ] || break
    shuffle_nodes
    perm=("${PERM[@]}")
    i="${perm[0]}"
    case "$kind" in
      kill | pause | isolate) echo "$at $hold $kind $i" ;;
      skew)
        sign=$((RANDOM % 2 ? 1 : -1))
        rand_in 30 600
        echo "$at $hold skew $i $((sign * R))"
        ;;
      loss) rand_in 10 40; echo "$at $hold loss $i $R" ;;
      throttle) rand_in 2 8; echo "$at $hold throttle $i ${R}00kbit" ;;
      flap) echo "$at $hold flap $i" ;;
      partition-majority)
        # Two halves: neither holds a quorum when N < 2q (always for N >= 2).
        a="$(IFS=,; echo "${perm[*]:0:$((N / 2))}")"
        b="$(IFS=,; echo "${perm[*]:$((N / 2))}")"
        echo "$at $hold partition $a $b"
        ;;
      partition-minority)
        # f nodes on one side, a quorum on the other.
        a="$(IFS=,; echo "${perm[*]:0:$((N - q))}")"
        b="$(IFS=,; echo "${perm[*]:$((N - q))}")"
        echo "$at $hold partition $a $b"
        ;;
      bridge)
        # perm[0] reaches both sides; one side plus the bridge is a quorum.
        rest=("${perm[@]:1}")
        a="$(IFS=,; echo "${perm[0]},${rest[*]:0:$((q - 1))}")"
        b="$(IFS=,; echo "${perm[0]},${rest[*]:$((q - 1))}")"
        echo "$at $hold bridge $a $b"
        ;;
    esac
    at=$((at + hold))
  done
}

# The nodes a fault line takes out (killed, paused, cut off or slowed).
fault_nodes() {
  local kind="$1"; shift
  case "$kind" in
    partition | bridge) echo "$*" | tr ', ' '\n\n' | sort -un | paste -sd, - ;;
    *) echo "$1" ;;
  esac
}

# keeps_quorum KIND ARGS...: true when the nodes the fault leaves alone, or
# one side of a partition, still form a quorum.
keeps_quorum() {
  local kind="$1" g n q best=0
  shift
  q="$(quorum_of "$N")"
  case "$kind" in
    partition | bridge)
      for g in "$@"; do
        n="$(echo "$g" | tr ',' '\n' | grep -c .)"
        [ "$n" -gt "$best" ] && best="$n"
      done
      [ "$best" -ge "$q" ] && echo true || echo false
      ;;
    *) [ $((N - 1)) -ge "$q" ] && echo true || echo false ;;
  esac
}

# Applies a fault (the schedule's KIND ARGS).
chaos_apply() {
  local kind="$1"; shift
  case "$kind" in
    kill) kill_node "$1" >/dev/null || true ;;
    pause) cmd_pause "$1" ;;
    isolate) cmd_isolate "$1" ;;
    flap) cmd_isolate "$1" ;;
    loss) cmd_loss "$1" "$2" ;;
    throttle) cmd_throttle "$1" "$2" ;;
    skew) cmd_skew "$1" "$2" ;;
    partition | bridge) cmd_partition "$@" ;;
  esac
}

# Holds a fault for HOLD seconds; a flap isolates and heals node I every 1-2 s.
chaos_hold() {
  local hold="$1" kind="$2" i="$3" end R
  end=$(($(date +%s) + hold))
  if [ "$kind" != flap ]; then
    sleep "$hold"
    return
  fi
  while [ "$(date +%s)" -lt "$end" ]; do
    rand_in 1 2
    sleep "$R"
    if fault_has isolate "$i"; then heal_node "$i" >/dev/null; else cmd_isolate "$i" >/dev/null; fi
  done
}

# Undoes a fault; a killed node is started again (not waited for: catching
# up under load is part of what the run checks).
chaos_undo() {
  local kind="$1" i="$2"
  case "$kind" in
    kill)
      start_node "$i"
      wait_health "$i"
      ;;
    skew) cmd_skew "$i" 0 ;;
    *) cmd_heal ;;
  esac
}

# After a fault is undone, waits (at most 60 s) until every node holds the
# highest height any node had when the undoing ended: a node restarted or
# healed is caught up before the next fault, so two faults never overlap
# (a node still syncing is as good as down). Says so in the nemesis log if a
# node does not make it.
chaos_settle() {
  local i h top=0
  for ((i = 0; i < N; i++)); do
    h="$(height_of "$i")"
    [ -n "$h" ] && [ "$h" -gt "$top" ] && top="$h"
  done
  for ((i = 0; i < N; i++)); do
    wait_height "$i" "$top" 60 || echo "chaos: node $i did not reach height $top within 60 s of the heal"
  done
}

# Writes one fault-log line (JSON) for cairn chaos-check.
chaos_log() {
  local log="$1" kind="$2" args="$3" start="$4" end="$5" nodes="$6" kq="$7"
  printf '{"kind":"%s","args":"%s","nodes":[%s],"keeps_quorum":%s,"start_unix_ms":%s%s}\n' \
    "$kind" "$args" "$nodes" "$kq" "$start" "${end:+,\"end_unix_ms\":$end}" >>"$log"
}

# Puts the testnet back: every fault healed, every node running.
chaos_restore() {
  local i
  cmd_heal >/dev/null 2>&1 || true
  for ((i = 0; i < N; i++)); do
    if ! node_pid "$i" >/dev/null; then
      start_node "$i"
      wait_health "$i" || true
    fi
  done
}

cmd_chaos() {
  local duration=120 seed="" rate=200 bound=15 out="" tail=20 drain=90 plan_only=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --duration) duration="${2:-}"; shift 2 ;;
      --seed) seed="${2:-}"; shift 2 ;;
      --rate) rate="${2:-}"; shift 2 ;;
      --bound) bound="${2:-}"; shift 2 ;;
      --out) out="${2:-}"; shift 2 ;;
      --plan-only) plan_only=1; shift ;;
      *) die "chaos: unknown argument '$1' (usage: $ME chaos [--duration S] [--seed N] [--rate R] [--bound S] [--out DIR] [--plan-only])" ;;
    esac
  done
  [[ "$duration" =~ ^[0-9]+$ ]] && [ "$duration" -ge 20 ] || die "chaos: --duration must be a whole number of seconds, at least 20; got '$duration'"
  [[ "$rate" =~ ^[0-9]+$ ]] && [ "$rate" -ge 1 ] || die "chaos: --rate must be a whole number of transactions per second; got '$rate'"
  [[ "$bound" =~ ^[0-9]+$ ]] && [ "$bound" -ge 1 ] || die "chaos: --bound must be a whole number of seconds; got '$bound'"
  [ -n "$seed" ] || seed="$(( $(date +%s) % 100000 ))"
  [[ "$seed" =~ ^[0-9]+$ ]] || die "chaos: --seed must be a whole number; got '$seed'"
  load_manifest
  local network=0
  if netns_layout && is_root; then network=1; fi
  if [ "$plan_only" = 1 ]; then
    RANDOM="$seed"
    chaos_plan "$duration" "$network"
    return
  fi
  need_curl
  find_bin
  "$BIN" chaos-check --help >/dev/null 2>&1 || die "this cairn binary ($BIN) has no \`chaos-check\` command; rebuild it"
  [ "$N" -ge 4 ] || die "chaos needs at least 4 validators (one may fail and the rest still form a quorum); this testnet has $N"
  [ -z "$(fault_lines)" ] || die "faults are in force ($(fault_lines | paste -sd';' -)); run \`$ME heal\` first"
  local i
  for ((i = 0; i < N; i++)); do
    node_pid "$i" >/dev/null || die "node $i is not running; start it (\`$ME start $i\`) before a chaos run"
  done
  if [ "$network" = 1 ]; then
    need_nft
  else
    echo "chaos: without network namespaces (root) only kill, pause and skew are scheduled" >&2
  fi
  [ -n "$out" ] || out="$DIR/chaos-$seed"
  case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
  rm -rf "$out"
  mkdir -p "$out"
  RANDOM="$seed"
  chaos_plan "$duration" "$network" >"$out/schedule.txt"
  say "chaos: seed $seed, $duration s of faults on $N nodes under $rate tx/s; schedule in $out/schedule.txt:"
  sed 's/^/  /' "$out/schedule.txt"

  # The load: every node, resubmitting, running past the last fault. The
  # schedule stretches by the time each recovery takes (chaos_settle), so the
  # load is planned a quarter longer; what is left of it after the last heal
  # is load on a healed testnet.
  local urls bench_pid load_secs=$((duration + duration / 4 + tail))
  urls="$(IFS=,; echo "${RPCS[*]}")"
  "$BIN" bench --rpc "$urls" --key "${KEYS[1]:-${KEYS[0]}}" --rate "$rate" \
    --duration "$load_secs" --drain-secs "$drain" --seed "$seed" \
    --record "$out/record.jsonl" --json >"$out/bench.json" 2>"$out/bench.log" &
  bench_pid=$!
  # shellcheck disable=SC2064
  trap "kill $bench_pid 2>/dev/null || true; chaos_restore" EXIT
  # Faults begin once transfers flow (after funding and signing).
  local t=0
  until grep -q "signed " "$out/bench.log" 2>/dev/null; do
    kill -0 "$bench_pid" 2>/dev/null || { cat "$out/bench.log" >&2; die "chaos: cairn bench exited before the load started (above)"; }
    [ "$t" -lt 1200 ] || die "chaos: cairn bench did not start its load within 120 s (see $out/bench.log)"
    sleep 0.1
    t=$((t + 1))
  done
  local began at hold kind args start end nodes kq
  began="$(date +%s)"
  : >"$out/faults.jsonl"
  : >"$out/violations.txt"
  while read -r at hold kind args; do
    while [ $(($(date +%s) - began)) -lt "$at" ]; do sleep 0.2; done
    # shellcheck disable=SC2086
    nodes="$(fault_nodes "$kind" $args)"
    # shellcheck disable=SC2086
    kq="$(keeps_quorum "$kind" $args)"
    start="$(now_ms)"
    say "chaos: $(date -u +%T) (schedule $at s): $kind $args"
    # shellcheck disable=SC2086
    chaos_apply "$kind" $args >>"$out/nemesis.log" 2>&1
    chaos_hold "$hold" "$kind" "${args%% *}" >>"$out/nemesis.log" 2>&1
    # The fault ends when its undoing begins (resume times include the
    # undoing itself: a restart, the rules removed node by node).
    end="$(now_ms)"
    # shellcheck disable=SC2086
    chaos_undo "$kind" $args >>"$out/nemesis.log" 2>&1
    chaos_log "$out/faults.jsonl" "$kind" "$args" "$start" "$end" "$nodes" "$kq"
    chaos_settle >>"$out/nemesis.log" 2>&1
    # The planned gap to the next fault counts from here: the schedule keeps
    # its order, holds and gaps whatever the recoveries take.
    began=$(($(date +%s) - at - hold))
  done <"$out/schedule.txt"
  local brc=0
  if ! kill -0 "$bench_pid" 2>/dev/null; then
    echo "the load ended before the last fault was healed (recoveries stretched the schedule past $load_secs s): liveness after the last heals was not tested" >>"$out/violations.txt"
  fi
  say "chaos: faults done; the load goes on to its planned $load_secs s, then drains (at most $drain s)"
  wait "$bench_pid" || brc=$?
  trap - EXIT
  chaos_restore
  [ "$brc" -eq 0 ] || echo "chaos: cairn bench exited with status $brc (see $out/bench.log)" >&2

  # Safety: every node's chain audited and identical up to a common height,
  # and no equivocation seen by any node.
  local safety="$out/safety.txt" violations="$out/violations.txt" m e
  : >"$safety"
  sleep 2
  if cmd_audit >"$out/audit.txt" 2>&1; then
    tail -n 1 "$out/audit.txt" >>"$safety"
  else
    echo "safety: the audit failed: $(grep -v '^node\|^auditing' "$out/audit.txt" | head -n 3 | paste -sd' ' -) (see $out/audit.txt)" >>"$violations"
    echo "audit FAILED (see $out/audit.txt)" >>"$safety"
  fi
  mapfile -t METRICS < <(manifest metrics)
  if [ "${#METRICS[@]}" -eq "$N" ]; then
    for ((i = 0; i < N; i++)); do
      m="$(curl -s --max-time 5 "${METRICS[$i]}/metrics" || true)"
      e="$(echo "$m" | sed -n 's/^cairn_equivocations_total \([0-9][0-9]*\).*/\1/p' | head -n 1)"
      if [ -z "$e" ]; then
        echo "safety: node $i's metrics (${METRICS[$i]}/metrics) did not answer with cairn_equivocations_total" >>"$violations"
      else
        echo "node $i: equivocations seen $e" >>"$safety"
        [ "$e" -eq 0 ] || echo "safety: node $i saw $e equivocating vote(s) (cairn_equivocations_total)" >>"$violations"
      fi
    done
  else
    echo "equivocations not checked: this testnet's nodes serve no metrics (made by an older cairn testnet; \`$ME reset\` and \`up\` again)" >>"$safety"
  fi
  local rc=0
  "$BIN" chaos-check --record "$out/record.jsonl" --faults "$out/faults.jsonl" \
    --rpc "$urls" --bound-secs "$bound" --violations "$violations" --safety "$safety" \
    --title "chaos seed $seed: $duration s, $N nodes, $rate tx/s" --out "$out" || rc=$?
  [ "$rc" -eq 0 ] || die "chaos: violations found (report: $out/report.txt, timeline: $out/timeline.svg)"
  say "chaos: passed (report: $out/report.txt, timeline: $out/timeline.svg)"
}
