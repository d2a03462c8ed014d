# shellcheck shell=bash
# The namespaced layout of scripts/testnet.sh, sourced by it: one Linux
# network namespace per validator, each joined to one bridge by a veth pair,
# so the network between validators can be broken for real (docs/FAULTS.md).
#
#   bridge    cn<ID>br       <SUBNET>.1/24  the host's address: its view of the RPCs
#   node i    cairn-<ID>-i   eth0 <SUBNET>.(i+2)/24, lo up; host end cn<ID>v<i>
#
# ID is a short hash of the testnet directory, so two testnets (or CI runs)
# never share a name; SUBNET is 10.X.Y, chosen when the testnet is created
# clear of every address and route of the host. Both are kept in
# $DIR/netns.conf, whose presence is what makes a testnet namespaced.
# Everything is found again by name prefix, so `down` cleans up after a
# crashed script too: deleting a namespace deletes its end of the veth, its
# nftables table and its qdiscs; deleting the host end and the bridge leaves
# nothing.
#
# Needs: ip (iproute2), run as root. Uses DIR, N, die, say from testnet.sh.

NETNS_CONF="$DIR/netns.conf"
NET_ID="" SUBNET="" HOST_IP="" NETNS_IPS=""

is_root() { [ "$(id -u)" -eq 0 ]; }
netns_layout() { [ -f "$NETNS_CONF" ]; }

# The id the names of this directory's testnet carry.
dir_net_id() { printf '%s' "$DIR" | sha256sum | cut -c1-6; }

# Sets NET_ID and SUBNET from netns.conf (the directory may have moved since
# it was written: the names keep the id they were made with).
load_netns() {
  NET_ID="$(sed -n 's/^id=\([0-9a-f]\{6\}\)$/\1/p' "$NETNS_CONF")"
  SUBNET="$(sed -n 's/^subnet=\(10\.[0-9]\{1,3\}\.[0-9]\{1,3\}\)$/\1/p' "$NETNS_CONF")"
  { [ -n "$NET_ID" ] && [ -n "$SUBNET" ]; } \
    || die "$NETNS_CONF is damaged (want lines id=<6 hex> and subnet=10.X.Y); \`$ME reset\` deletes the testnet"
  HOST_IP="$SUBNET.1"
}

ns_name() { echo "cairn-$NET_ID-$1"; }
veth_name() { echo "cn${NET_ID}v$1"; }
bridge_name() { echo "cn${NET_ID}br"; }
node_ip() { echo "$SUBNET.$(($1 + 2))"; }

# Whether 10.X.Y.0/24 overlaps an address or route of the host.
subnet_taken() {
  local s="$1"
  ip -4 -o addr show | grep -q " inet $s\." && return 0
  ip -4 route show match "$s.0/24" 2>/dev/null | grep -vq '^default' && return 0
  [ -n "$(ip -4 route show root "$s.0/24" 2>/dev/null)" ] && return 0
  return 1
}

# Picks 10.X.Y for a new testnet from the directory's hash (X in 160..223),
# skipping subnets in use; prints it.
pick_subnet() {
  local h x y k s
  h="$(printf '%s' "$DIR" | sha256sum)"
  x=$((16#${h:6:2} % 64 + 160))
  y=$((16#${h:8:2}))
  for ((k = 0; k < 256; k++)); do
    s="10.$x.$(((y + k) % 256))"
    subnet_taken "$s" || { echo "$s"; return 0; }
  done
  die "no free 10.$x.Y.0/24 subnet for the testnet's namespaces (every one overlaps an address or route of this host)"
}

# Plans a new namespaced testnet of $1 nodes: sets NET_ID, SUBNET, HOST_IP
# and NETNS_IPS (the --listen-ips of `cairn testnet`).
netns_plan() {
  local n="$1" i
  NET_ID="$(dir_net_id)"
  SUBNET="$(pick_subnet)"
  HOST_IP="$SUBNET.1"
  NETNS_IPS=""
  for ((i = 0; i < n; i++)); do NETNS_IPS="${NETNS_IPS:+$NETNS_IPS,}$(node_ip "$i")"; done
}

write_netns_conf() {
  printf 'id=%s\nsubnet=%s\n' "$NET_ID" "$SUBNET" >"$NETNS_CONF"
}

# Whether this testnet gets namespaces when created: CAIRN_TESTNET_NETNS
# auto (default: when root), 1 (required) or 0 (never).
want_netns() {
  case "${CAIRN_TESTNET_NETNS:-auto}" in
    auto) is_root ;;
    1) is_root || die "CAIRN_TESTNET_NETNS=1: one network namespace per validator needs root (creating namespaces, veths and a bridge needs CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root, or unset it for the 127.0.0.1 layout"
       return 0 ;;
    0) return 1 ;;
    *) die "CAIRN_TESTNET_NETNS=${CAIRN_TESTNET_NETNS} is not auto, 1 or 0" ;;
  esac
}

# Dies unless the network faults can be made here: a namespaced testnet and root.
need_netns() {
  local what="$1"
  if ! netns_layout; then
    die "$what needs the namespaced layout (each validator in its own network namespace, so one node's traffic can be cut without cutting the others'); this testnet runs every node on 127.0.0.1, where that is impossible. Namespaces need root: as root, \`$ME reset\` then \`$ME up\` (or another CAIRN_TESTNET_DIR) creates one"
  fi
  is_root || die "$what needs root: it changes nftables rules and qdiscs inside the testnet's network namespaces (CAP_NET_ADMIN); run it as root"
  load_netns
  netns_exists || die "$what: the testnet's network is down (its namespaces exist only while it is up); start it with \`$ME up\`"
}

netns_exists() { ip link show "$(bridge_name)" >/dev/null 2>&1; }

# Kills what runs in, and deletes, every namespace, veth and bridge named for
# id $1 (default: this testnet's). Quiet; never fails.
netns_clean() {
  local id="${1:-$NET_ID}" ns l pid
  [ -n "$id" ] || return 0
  is_root || return 0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^cairn-$id-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^cn$id" || true); do
    ip link del "$l" 2>/dev/null || true
  done
}

# Both the id in netns.conf and the one of the directory's path.
netns_clean_all() {
  netns_clean "$(dir_net_id)"
  if netns_layout; then netns_clean "$(sed -n 's/^id=\([0-9a-f]\{6\}\)$/\1/p' "$NETNS_CONF")"; fi
}

# Creates the bridge and one namespace per node (after removing leftovers).
netns_up() {
  is_root || die "this testnet was created as root with one network namespace per validator (its nodes listen on $SUBNET.x); run \`$ME up\` as root, or \`$ME reset\` and create a 127.0.0.1 testnet without root"
  local br i ns v ip
  br="$(bridge_name)"
  netns_clean
  if subnet_taken "$SUBNET"; then
    die "the testnet's subnet $SUBNET.0/24 is in use on this host now (another testnet's bridge? \`ip -4 addr\` shows it); stop that, or \`$ME reset\` and create this testnet again"
  fi
  ip link add "$br" type bridge 2>/dev/null \
    || die "cannot create the bridge $br (\`ip link add $br type bridge\` failed: no CAP_NET_ADMIN, or no bridge support in this kernel); CAIRN_TESTNET_NETNS=0 makes a 127.0.0.1 testnet instead"
  ip addr add "$HOST_IP/24" dev "$br"
  ip link set "$br" up
  for ((i = 0; i < N; i++)); do
    ns="$(ns_name "$i")" v="$(veth_name "$i")" ip="$(node_ip "$i")"
    ip netns add "$ns" || die "cannot create network namespace $ns (\`ip netns add\` needs CAP_SYS_ADMIN and a writable /run/netns)"
    ip link add "$v" type veth peer name eth0 netns "$ns"
    ip link set "$v" master "$br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" -o link show lo | grep -q '[<,]UP[,>]' || die "loopback of $ns is not up"
  done
}

# Dies unless node I's namespace exists.
netns_check() {
  local ns
  ns="$(ns_name "$1")"
  [ -e "/run/netns/$ns" ] || die "node $1's network namespace $ns is gone (a reboot, or someone deleted it); \`$ME down\` then \`$ME up\` rebuilds the network"
}

netns_describe() {
  local state=""
  netns_exists || state=" (down: \`$ME up\` creates them)"
  say "network: one namespace per node, cairn-$NET_ID-0..$((N - 1)), on bridge $(bridge_name) ($SUBNET.0/24; the host is $HOST_IP)$state"
}
