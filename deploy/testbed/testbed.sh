#!/usr/bin/env bash
# tacnode field testbed: N hosts (network namespaces) on one bridge, each
# running `tacnode run` with its own data directory, config and pre-shared
# peer list, over a chosen link profile. Needs root, iproute2 and nftables
# (see .ci/testbed-deps); python3 for the radio profile's delay relay.
#
# Usage: testbed.sh [-p PREFIX] [-s STATE_DIR] [-b TACNODE_BIN] COMMAND ...
#   up [N] [PROFILE]      build N hosts (default 8, at most 50) on PROFILE
#                         (lan | radio | degraded; default lan) and start them
#   down                  kill every process in the testbed, delete its
#                         namespaces and its state directory (always safe)
#   partition "A.." "B.." cut every host of set A from every host of set B
#   heal                  remove every partition
#   kill I                kill -9 node I          start I   start node I again
#   stop I                SIGTERM node I and wait
#   exec I CMD...         run CMD in host I's namespace
#   cli I ARGS...         run `tacnode --data-dir <I's dir> ARGS`
#   addr I                print node I's key_ address
#   ip I                  print the address peers use for node I
#   pid I                 print node I's daemon pid (empty when stopped)
#   status                one line per host
#   readdress I           host I behind a NAT: its router's public address
#                         moves between 10.77.0.I and 10.77.2.I (the laptop
#                         took another network); the NAT forgets its mappings
#
# Addressing: host I is 10.77.0.I/16 (eth0 in namespace PREFIX-hI, its veth
# peer on bridge br0 in namespace PREFIX-hub). Nothing is added to the root
# namespace. On the radio profile every node advertises 10.77.1.I, an address
# of the hub where udp-relay.py adds the delay.
#
# Profiles:
#   lan       no shaping
#   radio     64 kbit/s per host uplink (tbf), 150 ms +/- 30 ms one-way delay
#             (udp-relay.py, both directions), 5% random loss on each host's
#             input (nftables numgen); no path MTU probes (as in the radio
#             schedule)
#   degraded  20% random loss on each host's input (nftables), no delay
#
# Environment: TESTBED_SCHEDULE=radio gives every node the radio schedule of
# deploy/radio.example.toml (no keep-alives, no MTU probes, 10-minute linger,
# 5-minute mailbox fetches, ...) instead of the testbed's own quick one;
# TESTBED_MAILBOX_FETCH_SECS, TESTBED_KEEP_ALIVE_MS, TESTBED_LINGER_MS,
# TESTBED_MTU_DISCOVERY and TESTBED_MAX_DIALS override those settings in the
# generated configs (quiet links for wire measurements, dial limits);
# TACNODE_TESTBED_LOG sets the daemons' log filter; TESTBED_PRIVACY=onion
# routes their traffic through relays; TESTBED_LAN_ONLY=1 leaves the peer
# list out and turns LAN discovery on; TESTBED_KEEP_STATE=1 keeps
# the state directory (data dirs, logs) after `down`.
#
# NAT (lan profile): TESTBED_NAT="I:KIND J:KIND ..." puts host I behind a
# router namespace PREFIX-rI of its own, on a private LAN 192.168.I.0/24
# (the host is 192.168.I.2, the router 192.168.I.1 and, on the bridge,
# 10.77.0.I): nftables masquerade on the router's bridge side. KIND eim:
# Linux's own masquerade, which keeps the host's source port (one mapping
# for every destination: endpoint-independent mapping) and lets in only
# replies to what the host sent (address- and port-dependent filtering).
# KIND sym: `masquerade random`, a random port per destination (a
# symmetric NAT). Either router drops unsolicited packets to itself. A NATed host runs a client node with the public hosts as
# its peer list and is in nobody's peer list.
#
# State: STATE_DIR (default /tmp/tacnode-testbed-PREFIX) holds per node
# data dirs (nI/), configs, logs (nI.log), pids, and the relay's log.
set -euo pipefail

PREFIX="tnb$$"
STATE=""
BIN=""
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=4500

while getopts "p:s:b:" opt; do
    case "$opt" in
        p) PREFIX="$OPTARG" ;;
        s) STATE="$OPTARG" ;;
        b) BIN="$OPTARG" ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[[ "$PREFIX" =~ ^[a-z0-9]{2,10}$ ]] || { echo "prefix must be 2-10 of [a-z0-9]" >&2; exit 2; }
STATE="${STATE:-/tmp/tacnode-testbed-$PREFIX}"
if [[ -z "$BIN" ]]; then
    BIN="$(command -v tacnode || true)"
    [[ -n "$BIN" ]] || BIN="$HERE/../../target/debug/tacnode"
fi

HUB="$PREFIX-hub"
ns() { echo "$PREFIX-h$1"; }
hostip() { echo "10.77.0.$1"; }
relayip() { echo "10.77.1.$1"; }
die() { echo "testbed: $*" >&2; exit 1; }
# Running (a zombie left for a non-reaping init counts as gone).
alive() { [[ -e /proc/$1 ]] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

rns() { echo "$PREFIX-r$1"; }
lanip() { echo "192.168.$1.2"; }
nhosts() { cat "$STATE/hosts"; }
profile() { cat "$STATE/profile"; }
# The NAT kind host I sits behind (empty: none).
natkind() { awk -v i="$1" '$1 == i {print $2}' "$STATE/nat" 2>/dev/null || true; }
# The address node I listens on: its own (a NATed host's on its LAN).
listenip() { if [[ -n "$(natkind "$1")" ]]; then lanip "$1"; else hostip "$1"; fi; }
# The address peers dial for node I (a NATed host's own, unreachable from
# outside: what it listens on).
peerip() {
    if [[ -n "$(natkind "$1")" ]]; then lanip "$1"
    elif [[ "$(profile)" == radio ]]; then relayip "$1"
    else hostip "$1"; fi
}

cmd_down() {
    # Processes first (by pid, only those inside our namespaces), then namespaces.
    local n
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-(hub|[hr][0-9]+)\$" || true); do
        local pids
        pids="$(ip netns pids "$n" 2>/dev/null || true)"
        [[ -z "$pids" ]] || kill -9 $pids 2>/dev/null || true
    done
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-(hub|[hr][0-9]+)\$" || true); do
        ip netns del "$n" 2>/dev/null || true
    done
    # TESTBED_KEEP_STATE=1 keeps the data dirs and logs for a look afterwards.
    if [[ -z ${TESTBED_KEEP_STATE:-} && -d "$STATE" && -f "$STATE/.testbed" ]]; then
        rm -rf "$STATE"
    fi
}

write_config() {
    local i=$1 prof=$2 n=$3 cfg="$STATE/n$1.toml"
    local advertise peers="" j
    advertise="$(peerip "$i"):$PORT"
    for j in $(seq 1 "$n"); do
        [[ $j == "$i" ]] && continue
        # Nobody can dial a NATed host: it is in no peer list.
        [[ -n "$(natkind "$j")" ]] && continue
        peers+="  \"$(cat "$STATE/n$j.addr")@$(peerip "$j"):$PORT\","$'\n'
    done
    local req_timeout=3000 dht_timeout=2000 backoff=500 max_backoff=4000 deposit=5000 fetch=3
    if [[ $prof == radio ]]; then
        req_timeout=15000 dht_timeout=8000 backoff=2000 max_backoff=8000 deposit=15000 fetch=5
    fi
    local keepalive=10000 linger=120000 idle=120000 mtu=true handshake=5000 dials=64
    if [[ $prof == radio ]]; then
        # Two dials at a time, as in the radio schedule: a handshake is
        # about 2.6 kB from the dialler and 1.4 kB back, and a cold start
        # dials every peer at once.
        dials=2
        # No path MTU probes on a radio, as in its schedule: about 5.6 kB
        # each way per new connection, seconds of a 64 kbit/s uplink while
        # every node dials every other.
        mtu=false
    fi
    local dht_extra="" transport_extra="" mailbox_extra=""
    if [[ ${TESTBED_SCHEDULE:-testbed} == radio ]]; then
        # The radio schedule: the values of deploy/radio.example.toml
        # (NodeConfig::radio, TransportConfig::radio).
        req_timeout=30000 dht_timeout=15000 backoff=5000 max_backoff=600000 deposit=60000 fetch=300
        keepalive=0 linger=600000 idle=600000 mtu=false handshake=15000 dials=2
        dht_extra=$'k = 8\nalpha = 2\nrepublish_interval_secs = 14400'
        transport_extra=$'max_connections = 64'
        mailbox_extra=$'holder_lookup_interval_secs = 3600'
    fi
    # TESTBED_PRIVACY=onion: messages, receipts and deposits through relays
    # (with the default cover traffic), a receipt wait short enough for a
    # test to see a deposit.
    local privacy=""
    if [[ -n ${TESTBED_PRIVACY:-} ]]; then
        privacy=$'[privacy]\nmode = "'"$TESTBED_PRIVACY"$'"\nreceipt_wait_ms = 2000'
    fi
    # TESTBED_LAN_ONLY=1: no pre-shared peer list; nodes find each other by
    # LAN beacons on their interface (one a second after the first three).
    local discovery=""
    if [[ -n ${TESTBED_LAN_ONLY:-} ]]; then
        peers=""
        discovery=$'[discovery]\nlan = true\ninterfaces = ["'"$(hostip "$i")"$'"]\ninterval_ms = 1000'
    fi
    local node_type=server
    [[ -n "$(natkind "$i")" ]] && node_type=client
    fetch=${TESTBED_MAILBOX_FETCH_SECS:-$fetch}
    keepalive=${TESTBED_KEEP_ALIVE_MS:-$keepalive}
    linger=${TESTBED_LINGER_MS:-$linger}
    mtu=${TESTBED_MTU_DISCOVERY:-$mtu}
    dials=${TESTBED_MAX_DIALS:-$dials}
    cat >"$cfg" <<EOF
# Generated by deploy/testbed/testbed.sh for host $i ($prof profile).
[node]
listen = "$(listenip "$i"):$PORT"
advertise = ["$advertise"]
node_type = "$node_type"
name = "h$i"

[bootstrap]
peers = [
$peers]

[delivery]
initial_backoff_ms = $backoff
max_backoff_ms = $max_backoff
deposit_after_ms = $deposit

[mailbox]
fetch_interval_secs = $fetch
$mailbox_extra

[dht]
request_timeout_ms = $dht_timeout
$dht_extra

[transport]
request_timeout_ms = $req_timeout
max_connections_per_ip = 64
idle_timeout_ms = $idle
keep_alive_ms = $keepalive
linger_ms = $linger
mtu_discovery = $mtu
handshake_timeout_ms = $handshake
max_concurrent_dials = $dials
$transport_extra

[log]
level = "${TACNODE_TESTBED_LOG:-info}"

$privacy

$discovery
EOF
}

cmd_start() {
    local i=$1
    local d="$STATE/n$i"
    rm -f "$d/control.sock"
    # `ip netns exec` execs the command: $! is the daemon's own pid.
    ip netns exec "$(ns "$i")" "$BIN" --data-dir "$d" --config "$STATE/n$i.toml" \
        run --passphrase-file "$STATE/passphrase" >>"$STATE/n$i.log" 2>&1 </dev/null &
    echo $! >"$STATE/n$i.pid"
    local t=0
    until "$BIN" --data-dir "$d" status >/dev/null 2>&1; do
        sleep 0.2
        t=$((t + 1))
        if ! alive "$(cat "$STATE/n$i.pid")"; then
            tail -20 "$STATE/n$i.log" >&2
            die "node $i exited during start"
        fi
        [[ $t -lt 300 ]] || die "node $i: control socket not ready after 60 s"
    done
}

cmd_kill() {
    local i=$1 pid
    pid="$(cat "$STATE/n$i.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] || return 0
    kill -9 "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.05; done
    : >"$STATE/n$i.pid"
}

cmd_stop() {
    local i=$1 pid
    pid="$(cat "$STATE/n$i.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local t=0
    while alive "$pid"; do
        sleep 0.1
        t=$((t + 1))
        [[ $t -lt 300 ]] || { kill -9 "$pid" 2>/dev/null || true; }
    done
    : >"$STATE/n$i.pid"
}

nft_base() {
    # One table per host: a set of cut-off peers, random loss on input.
    local i=$1 loss=$2
    {
        echo "table inet tacnode_tb {"
        echo "  set cut { type ipv4_addr; }"
        echo "  chain input { type filter hook input priority 0; policy accept;"
        echo "    ip saddr @cut drop"
        [[ $loss -gt 0 ]] && echo "    ip saddr 10.77.0.0/16 meta l4proto udp numgen random mod 100 < $loss drop"
        echo "  }"
        echo "  chain output { type filter hook output priority 0; policy accept;"
        echo "    ip daddr @cut drop"
        echo "  }"
        echo "}"
    } | ip netns exec "$(ns "$i")" nft -f -
}

# Host I behind a NAT of KIND: router namespace PREFIX-rI with `wan`
# (10.77.0.I on the bridge) and `lan0` (192.168.I.1); the host's eth0 is
# 192.168.I.2 with the router as its default route.
nat_router() {
    local i=$1 kind=$2 r
    r="$(rns "$i")"
    ip netns add "$r"
    ip -n "$r" link set lo up
    ip -n "$HUB" link add "v$i" type veth peer name wan netns "$r"
    ip -n "$HUB" link set "v$i" master br0 up
    ip -n "$r" addr add "$(hostip "$i")/16" dev wan
    ip -n "$r" link set wan up
    ip -n "$r" link add lan0 type veth peer name eth0 netns "$(ns "$i")"
    ip -n "$r" addr add "192.168.$i.1/24" dev lan0
    ip -n "$r" link set lan0 up
    ip -n "$(ns "$i")" addr add "$(lanip "$i")/24" dev eth0
    ip -n "$(ns "$i")" link set eth0 up
    ip -n "$(ns "$i")" route add default via "192.168.$i.1"
    ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
    local how="masquerade"
    [[ $kind == sym ]] && how="masquerade random"
    {
        echo "table ip tacnode_nat {"
        echo "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;"
        echo "    oifname \"wan\" $how"
        echo "  }"
        echo "  chain forward { type filter hook forward priority 0; policy drop;"
        echo "    iifname \"lan0\" accept"
        echo "    ct state established,related accept"
        echo "  }"
        # Like a home router: nothing unsolicited reaches the router
        # itself. Dropped here, such a packet leaves no conntrack entry
        # behind (an entry is kept only once a packet passed), which would
        # otherwise take the host's port and make the masquerade pick
        # another one for the host's next outgoing flow to that peer.
        echo "  chain input { type filter hook input priority 0; policy drop;"
        echo "    iifname { \"lo\", \"lan0\" } accept"
        echo "    ct state established,related accept"
        echo "  }"
        echo "}"
    } | ip netns exec "$r" nft -f -
}

# The kernel's neighbour (ARP/NDP) tables are shared by every network
# namespace, and their default hard limit (gc_thresh3 = 1024 entries) is below
# what a full mesh of N hosts needs (N * (N - 1) entries, 2,450 at 50 hosts).
# Past it the kernel drops packets to peers it cannot resolve ("neighbor
# table overflow" in dmesg; the node sees dials that never complete). Raise
# the limits when they are too low; they are never lowered.
neighbour_room() {
    local n=$1 fam need
    need=$((n * n * 2 + 1024))
    for fam in ipv4 ipv6; do
        local base=/proc/sys/net/$fam/neigh/default
        if [[ $(cat "$base/gc_thresh3") -lt $need ]]; then
            echo "$need" >"$base/gc_thresh3" || die "cannot raise $base/gc_thresh3 to $need"
            echo $((need / 2)) >"$base/gc_thresh2" || die "cannot raise $base/gc_thresh2"
            echo "testbed: raised $fam neighbour table limit (gc_thresh3) to $need for $n hosts" >&2
        fi
    done
}

cmd_up() {
    local n=${1:-8} prof=${2:-lan}
    [[ $n =~ ^[0-9]+$ && $n -ge 2 && $n -le 50 ]] || die "N must be 2..50"
    case "$prof" in lan | radio | degraded) ;; *) die "unknown profile $prof" ;; esac
    [[ $EUID -eq 0 ]] || die "needs root"
    command -v ip >/dev/null || die "needs iproute2 (ip)"
    command -v nft >/dev/null || die "needs nftables (nft)"
    [[ -x "$BIN" ]] || die "tacnode binary not found at $BIN (build: cargo build -p tacnode)"
    if [[ $prof == radio ]]; then command -v python3 >/dev/null || die "radio profile needs python3"; fi
    if ip netns list | awk '{print $1}' | grep -qE "^$PREFIX-"; then die "prefix $PREFIX already in use (run down first)"; fi
    neighbour_room "$n"
    # Any failure from here on tears everything down.
    trap 'echo "testbed: up failed, tearing down" >&2; cmd_down' ERR
    rm -rf "$STATE"
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    touch "$STATE/.testbed"
    echo "$n" >"$STATE/hosts"
    echo "$prof" >"$STATE/profile"
    echo "testbed-$PREFIX" >"$STATE/passphrase"
    : >"$STATE/nat"
    local spec
    for spec in ${TESTBED_NAT:-}; do
        [[ $spec =~ ^([0-9]+):(eim|sym)$ ]] || die "TESTBED_NAT: $spec is not I:eim or I:sym"
        [[ ${BASH_REMATCH[1]} -ge 1 && ${BASH_REMATCH[1]} -le $n ]] || die "TESTBED_NAT: no host ${BASH_REMATCH[1]}"
        [[ $prof == lan ]] || die "TESTBED_NAT needs the lan profile"
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" >>"$STATE/nat"
    done
    chmod 600 "$STATE/passphrase"

    ip netns add "$HUB"
    ip -n "$HUB" link set lo up
    ip -n "$HUB" link add br0 type bridge
    ip -n "$HUB" link set br0 up
    local i loss=0
    [[ $prof == radio ]] && loss=5
    [[ $prof == degraded ]] && loss=20
    for i in $(seq 1 "$n"); do
        ip netns add "$(ns "$i")"
        ip -n "$(ns "$i")" link set lo up
        if [[ -n "$(natkind "$i")" ]]; then
            nat_router "$i" "$(natkind "$i")"
            nft_base "$i" "$loss"
            continue
        fi
        ip -n "$HUB" link add "v$i" type veth peer name eth0 netns "$(ns "$i")"
        ip -n "$HUB" link set "v$i" master br0 up
        ip -n "$(ns "$i")" addr add "$(hostip "$i")/16" dev eth0
        ip -n "$(ns "$i")" link set eth0 up
        if [[ $prof == radio ]]; then
            ip -n "$HUB" addr add "$(relayip "$i")/16" dev br0
            ip netns exec "$(ns "$i")" tc qdisc add dev eth0 root tbf rate 64kbit burst 4kb latency 1s
        fi
        nft_base "$i" "$loss"
    done
    if [[ $prof == radio ]]; then
        ip netns exec "$HUB" python3 "$HERE/udp-relay.py" --hosts "$n" --port "$PORT" \
            --delay-ms 150 --jitter-ms 30 >"$STATE/relay.log" 2>&1 </dev/null &
        echo $! >"$STATE/relay.pid"
    fi
    # Identities (Argon2id unlock is slow: run the inits in parallel).
    local inits=()
    for i in $(seq 1 "$n"); do
        (
            "$BIN" --data-dir "$STATE/n$i" init --passphrase-file "$STATE/passphrase" \
                | awk '/^address:/ {print $2}' >"$STATE/n$i.addr"
        ) &
        inits+=($!)
        # At most 4 Argon2id derivations (64 MiB each) at a time.
        if [[ ${#inits[@]} -ge 4 ]]; then wait "${inits[@]}"; inits=(); fi
    done
    [[ ${#inits[@]} -eq 0 ]] || wait "${inits[@]}"
    for i in $(seq 1 "$n"); do
        [[ -s "$STATE/n$i.addr" ]] || die "init of node $i failed"
        write_config "$i" "$prof" "$n"
    done
    for i in $(seq 1 "$n"); do cmd_start "$i"; done
    trap - ERR
    echo "testbed $PREFIX: $n hosts, profile $prof, state $STATE"
}

cmd_partition() {
    local a=($1) b=($2) x y
    for x in "${a[@]}"; do
        for y in "${b[@]}"; do
            ip netns exec "$(ns "$x")" nft add element inet tacnode_tb cut "{ $(hostip "$y"), $(relayip "$y") }"
            ip netns exec "$(ns "$y")" nft add element inet tacnode_tb cut "{ $(hostip "$x"), $(relayip "$x") }"
        done
    done
}

cmd_heal() {
    local i
    for i in $(seq 1 "$(nhosts)"); do
        ip netns exec "$(ns "$i")" nft flush set inet tacnode_tb cut
    done
}

cmd_readdress() {
    local i=$1 r old new
    [[ -n "$(natkind "$i")" ]] || die "host $i is not behind a NAT"
    r="$(rns "$i")"
    if ip -n "$r" -4 addr show dev wan | grep -q "inet $(hostip "$i")/"; then
        old="$(hostip "$i")" new="10.77.2.$i"
    else
        old="10.77.2.$i" new="$(hostip "$i")"
    fi
    # Removing the address makes the masquerade drop the mappings made
    # with it (the kernel flushes their conntrack entries). Removed first:
    # with both in one subnet, the new one would be a secondary address,
    # which the kernel removes with the primary.
    ip -n "$r" addr del "$old/16" dev wan
    ip -n "$r" addr add "$new/16" dev wan
    echo "$new"
}

cmd_status() {
    local i pid
    for i in $(seq 1 "$(nhosts)"); do
        local nat
        nat="$(natkind "$i")"
        pid="$(cat "$STATE/n$i.pid" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && alive "$pid"; then
            echo "h$i $(peerip "$i") $(cat "$STATE/n$i.addr") running pid $pid${nat:+ behind $nat NAT}"
        else
            echo "h$i $(peerip "$i") $(cat "$STATE/n$i.addr") stopped"
        fi
    done
}

c="${1:-}"
[[ -n "$c" ]] || { sed -n '2,40p' "$0"; exit 2; }
shift
case "$c" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    partition) [[ $# -eq 2 ]] || die "partition \"A..\" \"B..\""; cmd_partition "$1" "$2" ;;
    heal) cmd_heal ;;
    kill) cmd_kill "$1" ;;
    stop) cmd_stop "$1" ;;
    start) cmd_start "$1" ;;
    exec) i=$1; shift; exec ip netns exec "$(ns "$i")" "$@" ;;
    cli) i=$1; shift; exec "$BIN" --data-dir "$STATE/n$i" "$@" ;;
    addr) cat "$STATE/n$1.addr" ;;
    ip) peerip "$1" ;;
    pid) cat "$STATE/n$1.pid" ;;
    status) cmd_status ;;
    readdress) cmd_readdress "$1" ;;
    *) die "unknown command $c" ;;
esac
