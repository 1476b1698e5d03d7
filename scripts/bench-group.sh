#!/usr/bin/env bash
# The side-by-side group benchmark (issue 11 item 5): one sender reaching N
# receivers, in one run on the same network, by
#   mcsctp-group   `mcsctp group-server` + N `mcsctp member`s (multicast)
#   mcsctp-fanout  the same group-server + N `mcsctp member --plain`: the
#                  server sends every message to every member over its own
#                  unicast association (N SCTP associations, fan-out)
#   udp-mcast      raw UDP: one sendto per message to the group (no repair)
#   udp-ucast      raw UDP: N sendto per message, one per member (no repair)
#   norm           NORM (RFC 5740, libnorm 1.5.9), tests/norm-peer
#   pgm            PGM (RFC 3208, OpenPGM 5.3, over UDP), tests/pgm-peer
# COUNT messages of SIZE bytes (default 10000 x 1200). NORM and PGM send at
# a fixed rate: each runs once per rate of NORM_RATES (bit/s) / PGM_RATES
# (bytes/s) and the best complete run is reported (highest goodput among
# the runs in which every receiver got every byte, by checksum).
#
#   scripts/bench-group.sh              # the full sweep (~10-15 min)
#   NS="4" LOSSES="0" scripts/bench-group.sh   # a quick look
#   PROTOS="norm pgm" TOPOS=bridge scripts/bench-group.sh   # some of it
#   scripts/bench-group.sh --smoke      # CI: NORM and PGM once each, N=2, loopback
#
# Networks (network namespaces, everything created here is removed on exit,
# also on failure and Ctrl-C):
#   loopback  one namespace, every process in it; multicast through a
#             port-less bridge d0 (10.99.0.1/24) whose IP_MULTICAST_LOOP
#             copy is what the receivers get -- OpenPGM refuses `lo`
#             ("no matching non-loopback and multicast capable network
#             interface"), so all six use d0 (unicast between local
#             addresses goes over lo). Loss-free.
#   bridge    a server namespace and one namespace per member, veths to a
#             Linux bridge (mcast_snooping 0) in a namespace of its own,
#             10.98.0.1 (server) and 10.98.0.(10+k); offloads off on every
#             veth (ethtool -K tx-udp-segmentation off gso off tso off gro
#             off) so that nftables sees single packets; LOSS % of the
#             multicast packets arriving at each member dropped by
#             `ip daddr 224.0.0.0/4 numgen random mod 100 < LOSS drop`
#             (prerouting, in the member's namespace).
#
# Figures per run: goodput per member (MB/s = 1e6 B/s): bytes of the
# message stream / the time from the sender's first message until every
# member had everything (mcsctp: the server's send-to-all-acked time;
# NORM: the sender's time to its final watermark acknowledged by every
# receiver; PGM, which has no acknowledgement: the latest receiver's last
# message minus the sender's first, same clock); server CPU seconds (user +
# system: wait4 of the server process for mcsctp, getrusage for the C peers); server
# bytes per message: mcsctp's own counters of UDP payload sent
# (bytes_multicast + bytes_unicast) and, on the bridge, the server veth's
# tx_bytes for every protocol (Ethernet frames: comparable across all).
#
# Needs root, iproute2, nftables, ethtool, gcc, g++, make, python3, cargo,
# libnorm-dev, libpgm-dev. Output: $OUT/results.md (Markdown) and
# $OUT/results.jsonl; logs in $OUT/runs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
COUNT=${COUNT:-10000}
SIZE=${SIZE:-1200}
NS=${NS:-"1 4 16"}
LOSSES=${LOSSES:-"0 1 5"}
NORM_RATES=${NORM_RATES:-"25e6 50e6 100e6 200e6 400e6 800e6"}
PGM_RATES=${PGM_RATES:-"2.5e6 5e6 10e6 20e6 40e6 80e6"}
TOPOS=${TOPOS:-"loopback bridge"}
PROTOS=${PROTOS:-"mcsctp udp norm pgm"}
OUT=${OUT:-$ROOT/target/bench-group}
MCSCTP=$ROOT/target/release/mcsctp
NORM=$ROOT/tests/norm-peer/peer
PGM=$ROOT/tests/pgm-peer/peer
UDP=$ROOT/tests/udp-peer/peer
P=mcb$$
GRP=239.255.42.1
if [ "$SMOKE" = 1 ]; then
    COUNT=${SMOKE_COUNT:-300}
    NS=2
    TOPOS=loopback
    NORM_RATES=50e6
    PGM_RATES=5e6
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-group-smoke.XXXXXX")
fi

[ "$(id -u)" = 0 ] || { echo "bench-group: needs root (network namespaces)" >&2; exit 3; }
for t in ip nft ethtool make python3; do
    command -v $t >/dev/null || { echo "bench-group: $t missing" >&2; exit 3; }
done
[ -e /usr/include/normApi.h ] || { echo "bench-group: libnorm-dev missing" >&2; exit 3; }
[ -e /usr/include/pgm-5.3/pgm/pgm.h ] || { echo "bench-group: libpgm-dev missing" >&2; exit 3; }

mkdir -p "$OUT/runs"
: > "$OUT/results.jsonl"
make -s -C "$ROOT/tests/norm-peer" >&2
make -s -C "$ROOT/tests/pgm-peer" >&2
make -s -C "$ROOT/tests/udp-peer" >&2
if [ "$SMOKE" = 0 ]; then
    (cd "$ROOT" && cargo build --release --quiet --bin mcsctp)
fi

NAMESPACES=()
cleanup() {
    local ns pid
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkns() { ip netns add "$1"; NAMESPACES+=("$1"); ip -n "$1" link set lo up; }

# The current network: server namespace/address/interface, member k's.
SNS= SADDR= SIF=
mns() { if [ "$TOPO" = loopback ]; then echo "$P-h"; else echo "$P-m$1"; fi; }
maddr() { if [ "$TOPO" = loopback ]; then echo 10.99.0.1; else echo "10.98.0.$((10 + $1))"; fi; }
mif() { if [ "$TOPO" = loopback ]; then echo d0; else echo m0; fi; }
tx_bytes() {
    if [ "$TOPO" = bridge ]; then ip netns exec "$SNS" cat /sys/class/net/s0/statistics/tx_bytes; else echo 0; fi
}

setup_loopback() {
    mkns "$P-h"
    ip -n "$P-h" link add d0 type bridge
    ip -n "$P-h" addr add 10.99.0.1/24 dev d0
    ip -n "$P-h" link set d0 up
    ip -n "$P-h" route add 224.0.0.0/4 dev d0
}

setup_bridge() { # $1: members
    local k
    mkns "$P-br"
    ip -n "$P-br" link add br0 type bridge mcast_snooping 0
    ip -n "$P-br" link set br0 up
    mkns "$P-s"
    ip link add s0 netns "$P-s" type veth peer name bs netns "$P-br"
    ip -n "$P-s" addr add 10.98.0.1/24 dev s0
    ip -n "$P-s" route add 224.0.0.0/4 dev s0 2>/dev/null || true
    for k in $(seq 0 $(($1 - 1))); do
        mkns "$P-m$k"
        ip link add m0 netns "$P-m$k" type veth peer name "b$k" netns "$P-br"
        ip -n "$P-m$k" addr add "10.98.0.$((10 + k))/24" dev m0
        ip -n "$P-m$k" link set m0 up
        ip -n "$P-m$k" route add 224.0.0.0/4 dev m0
        ip netns exec "$P-m$k" ethtool -K m0 tx-udp-segmentation off gso off tso off gro off >/dev/null 2>&1 || true
        ip -n "$P-br" link set "b$k" master br0 up
        ip netns exec "$P-br" ethtool -K "b$k" tx-udp-segmentation off gso off tso off gro off >/dev/null 2>&1 || true
    done
    ip -n "$P-s" link set s0 up
    ip netns exec "$P-s" ethtool -K s0 tx-udp-segmentation off gso off tso off gro off >/dev/null 2>&1 || true
    ip -n "$P-br" link set bs master br0 up
    ip netns exec "$P-br" ethtool -K bs tx-udp-segmentation off gso off tso off gro off >/dev/null 2>&1 || true
}

set_loss() { # $1: members, $2: percent
    local k
    for k in $(seq 0 $(($1 - 1))); do
        ip netns exec "$P-m$k" nft delete table ip bench 2>/dev/null || true
        [ "$2" = 0 ] && continue
        ip netns exec "$P-m$k" nft -f - <<NFT
table ip bench {
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        ip daddr 224.0.0.0/4 numgen random mod 100 < $2 drop
    }
}
NFT
    done
}

# Waits (bounded, 10 s) until every file named exists.
wait_files() {
    local f i missing
    for i in $(seq 200); do
        missing=0
        for f in "$@"; do [ -e "$f" ] || missing=1; done
        [ "$missing" = 0 ] && return 0
        sleep 0.05
    done
    echo "bench-group: receivers not ready: $*" >&2
    return 1
}

# Runs a command and writes its user and system CPU seconds (its
# descendants' included, from wait4) to the file named first.
CPUWRAP='import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, st, ru = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write("%.6f %.6f\n" % (ru.ru_utime, ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(st))'

RUN=0
# One run's directory, in $D.
rundir() { RUN=$((RUN + 1)); D="$OUT/runs/$RUN-$1"; mkdir -p "$D"; }

# A timeout for one run: generous for COUNT messages even at 1 MB/s.
T=$((30 + COUNT * SIZE / 1000000))

run_mcsctp() { # $1: group|fanout, $2: N, $3: loss
    local mode=$1 n=$2 d k pids=() tx0 tx1
    rundir "mcsctp-$mode-$TOPO-n$n-l$3"; d=$D
    tx0=$(tx_bytes)
    ip netns exec "$SNS" python3 -c "$CPUWRAP" "$d/server.time" \
        timeout $T "$MCSCTP" group-server --group "$GRP:9907" --interface "$SIF" --bind "$SADDR" \
        --port 5000 --local-udp-port 9899 --members "$n" --count "$COUNT" --size "$SIZE" \
        --plain-backlog $((COUNT + 1)) \
        --timeout $T --json > "$d/server.json" 2> "$d/server.err" &
    local spid=$!
    for k in $(seq 0 $((n - 1))); do
        local how=(--interface "$(mif $k)")
        [ "$mode" = fanout ] && how=(--plain)
        ip netns exec "$(mns $k)" timeout $T "$MCSCTP" member "$SADDR" 5000 --bind "$(maddr $k)" \
            "${how[@]}" --remote-udp-port 9899 --count "$COUNT" --timeout $T --json \
            > "$d/member$k.json" 2> "$d/member$k.err" &
        pids+=($!)
    done
    wait "$spid" || true
    for k in "${pids[@]}"; do wait "$k" || true; done
    tx1=$(tx_bytes)
    python3 - "$d" "$mode" "$n" "$3" "$TOPO" "$COUNT" "$SIZE" $((tx1 - tx0)) >> "$OUT/results.jsonl" <<'PY'
import json, sys, os
d, mode, n, loss, topo, count, size, tx = sys.argv[1:]
n, count, size, tx = int(n), int(count), int(size), int(tx)
r = {"proto": "mcsctp-" + mode, "topo": topo, "n": n, "loss": float(loss), "dir": d}
try:
    s = json.load(open(d + "/server.json"))
    u, sy = open(d + "/server.time").read().split()[-2:]
    ms = [json.load(open(f"{d}/member{k}.json")) for k in range(n)]
    ok = all(m["sha256"] == s["sha256"] and m["received"] == count for m in ms)
    r.update(complete=ok, seconds=s["seconds"], goodput=count * size / s["seconds"] / 1e6,
             cpu=float(u) + float(sy),
             bytes_per_msg=(s["bytes_multicast"] + s["bytes_unicast"]) / count,
             wire_per_msg=tx / count if tx else None,
             kinds=sorted(set(m["kind"] for m in ms)))
except Exception as e:
    r.update(complete=False, error=repr(e)[:200])
print(json.dumps(r))
PY
}

run_udp() { # $1: mcast|ucast, $2: N, $3: loss
    local mode=$1 n=$2 d k tos=() ready=() pids=()
    rundir "udp-$mode-$TOPO-n$n-l$3"; d=$D
    for k in $(seq 0 $((n - 1))); do
        local port=7600
        [ "$TOPO" = loopback ] && [ "$mode" = ucast ] && port=$((7600 + k))
        local grp=()
        [ "$mode" = mcast ] && grp=(--group "$GRP")
        ip netns exec "$(mns $k)" timeout $T "$UDP" --recv --bind "$(maddr $k)" --port $port \
            "${grp[@]}" --count "$COUNT" --idle 1 --ready "$d/ready$k" > "$d/recv$k.json" 2>&1 &
        pids+=($!)
        ready+=("$d/ready$k")
        if [ "$mode" = ucast ]; then tos+=(--to "$(maddr $k):$port"); fi
    done
    [ "$mode" = mcast ] && tos=(--to "$GRP:7600")
    wait_files "${ready[@]}"
    local tx0 tx1
    tx0=$(tx_bytes)
    ip netns exec "$SNS" timeout $T "$UDP" --send --bind "$SADDR" --count "$COUNT" --size "$SIZE" \
        "${tos[@]}" > "$d/send.json" 2>&1 || true
    tx1=$(tx_bytes)
    for k in "${pids[@]}"; do wait "$k" || true; done
    python3 - "$d" "$mode" "$n" "$3" "$TOPO" "$COUNT" "$SIZE" $((tx1 - tx0)) >> "$OUT/results.jsonl" <<'PY'
import json, sys
d, mode, n, loss, topo, count, size, tx = sys.argv[1:]
n, count, size, tx = int(n), int(count), int(size), int(tx)
r = {"proto": "udp-" + mode, "topo": topo, "n": n, "loss": float(loss), "dir": d}
try:
    s = json.load(open(d + "/send.json"))
    rs = [json.load(open(f"{d}/recv{k}.json")) for k in range(n)]
    got = [x["received"] for x in rs]
    r.update(complete=False, seconds=s["seconds"], cpu=s["cpu"],
             delivered=min(got) / count, goodput=min(got) * size / s["seconds"] / 1e6,
             bytes_per_msg=size * s["destinations"], wire_per_msg=tx / count if tx else None)
except Exception as e:
    r.update(complete=False, error=repr(e)[:200])
print(json.dumps(r))
PY
}

# A timeout for a run at a fixed rate of $1 bytes/s: 5 s + 3 x the time
# the messages take at that rate.
rate_t() { python3 -c "print(int(5 + 3 * $COUNT * $SIZE / ($1)))"; }

run_norm() { # $1: rate bit/s, $2: N, $3: loss
    local rate=$1 n=$2 d k ready=() pids=() tx0 tx1 parity=0 T
    T=$(rate_t "$rate/8")
    # Parity segments for repair (computed on demand, none sent
    # proactively) when there is loss: one repair packet fixes different
    # losses at different receivers (RFC 5740 §5.3).
    [ "$3" != 0 ] && parity=8
    rundir "norm-$TOPO-n$n-l$3-r$rate"; d=$D
    for k in $(seq 0 $((n - 1))); do
        ip netns exec "$(mns $k)" timeout $T "$NORM" --recv --group "$GRP:7400" --interface "$(mif $k)" \
            --node-id $((100 + k)) --count "$COUNT" --size "$SIZE" --parity $parity --timeout $((T - 1)) \
            --ready "$d/ready$k" > "$d/recv$k.json" 2> "$d/recv$k.err" &
        pids+=($!)
        ready+=("$d/ready$k")
    done
    wait_files "${ready[@]}"
    tx0=$(tx_bytes)
    ip netns exec "$SNS" timeout $T "$NORM" --send --group "$GRP:7400" --interface "$SIF" \
        --node-id 1 --receivers "$n" --count "$COUNT" --size "$SIZE" --rate "$rate" \
        --parity $parity --timeout $((T - 2)) > "$d/send.json" 2> "$d/send.err" || true
    tx1=$(tx_bytes)
    for k in "${pids[@]}"; do wait "$k" || true; done
    python3 - "$d" norm "$n" "$3" "$TOPO" "$COUNT" "$SIZE" $((tx1 - tx0)) "$rate" >> "$OUT/results.jsonl" <<'PY'
import json, sys
d, proto, n, loss, topo, count, size, tx, rate = sys.argv[1:]
n, count, size, tx = int(n), int(count), int(size), int(tx)
r = {"proto": proto, "topo": topo, "n": n, "loss": float(loss), "dir": d, "rate": float(rate)}
try:
    s = json.load(open(d + "/send.json"))
    rs = [json.load(open(f"{d}/recv{k}.json")) for k in range(n)]
    ok = s["complete"] and all(x["complete"] and x["checksum"] == s["checksum"] for x in rs)
    r.update(complete=ok, seconds=s["seconds"], goodput=count * size / s["seconds"] / 1e6,
             cpu=s["cpu"], wire_per_msg=tx / count if tx else None)
except Exception as e:
    r.update(complete=False, error=repr(e)[:200])
print(json.dumps(r))
PY
}

run_pgm() { # $1: rate bytes/s, $2: N, $3: loss
    local rate=$1 n=$2 d k ready=() pids=() tx0 tx1 spid T
    T=$(rate_t "$rate")
    rundir "pgm-$TOPO-n$n-l$3-r$rate"; d=$D
    for k in $(seq 0 $((n - 1))); do
        ip netns exec "$(mns $k)" timeout $T "$PGM" --recv --network "$(maddr $k);$GRP" --port 7500 \
            --count "$COUNT" --size "$SIZE" --timeout $((T - 1)) --ready "$d/ready$k" \
            > "$d/recv$k.json" 2> "$d/recv$k.err" &
        pids+=($!)
        ready+=("$d/ready$k")
    done
    wait_files "${ready[@]}"
    tx0=$(tx_bytes)
    ip netns exec "$SNS" timeout $((T + 10)) "$PGM" --send --network "$SADDR;$GRP" --port 7500 \
        --count "$COUNT" --size "$SIZE" --rate "$rate" --timeout $T --linger $T \
        > "$d/send.json" 2> "$d/send.err" &
    spid=$!
    for k in "${pids[@]}"; do wait "$k" || true; done
    # Every receiver is done (or gave up): stop the sender's repair service.
    kill -TERM "$spid" 2>/dev/null || true # timeout passes it on to the peer
    wait "$spid" || true
    tx1=$(tx_bytes)
    python3 - "$d" pgm "$n" "$3" "$TOPO" "$COUNT" "$SIZE" $((tx1 - tx0)) "$rate" >> "$OUT/results.jsonl" <<'PY'
import json, sys
d, proto, n, loss, topo, count, size, tx, rate = sys.argv[1:]
n, count, size, tx = int(n), int(count), int(size), int(tx)
r = {"proto": proto, "topo": topo, "n": n, "loss": float(loss), "dir": d, "rate": float(rate)}
try:
    s = json.load(open(d + "/send.json"))
    rs = [json.load(open(f"{d}/recv{k}.json")) for k in range(n)]
    ok = s["complete"] and all(x["complete"] and x["checksum"] == s["checksum"] for x in rs)
    secs = max(x["end"] for x in rs) - s["start"] if ok else None
    r.update(complete=ok, seconds=secs, goodput=count * size / secs / 1e6 if ok else None,
             cpu=s["cpu"], wire_per_msg=tx / count if tx else None)
except Exception as e:
    r.update(complete=False, error=repr(e)[:200])
print(json.dumps(r))
PY
}

# Whether protocol $1 is in PROTOS.
want() { case " $PROTOS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# Whether the last run recorded was complete.
last_complete() { tail -n 1 "$OUT/results.jsonl" | grep -q '"complete": true'; }

if [ "$SMOKE" = 1 ]; then
    TOPO=loopback
    setup_loopback
    SNS=$P-h SADDR=10.99.0.1 SIF=d0
    run_norm "$NORM_RATES" 2 0
    run_pgm "$PGM_RATES" 2 0
    python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    ok = r.get("complete")
    print(f"SMOKE {r['proto']}: {'complete' if ok else 'INCOMPLETE'} n={r['n']} "
          f"goodput={r.get('goodput')} {r.get('error', '')} ({r['dir']})")
    bad += not ok
sys.exit(1 if bad else 0)
PY
    rc=$?
    [ $rc = 0 ] && rm -rf "$OUT"
    exit $rc
fi

echo "bench-group: COUNT=$COUNT SIZE=$SIZE NS='$NS' LOSSES='$LOSSES' TOPOS='$TOPOS'" >&2
echo "  NORM_RATES='$NORM_RATES' PGM_RATES='$PGM_RATES' -> $OUT" >&2
MAXN=0
for n in $NS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
for TOPO in $TOPOS; do
    if [ "$TOPO" = loopback ]; then
        setup_loopback
        SNS=$P-h SADDR=10.99.0.1 SIF=d0
        losses=0
    else
        setup_bridge "$MAXN"
        SNS=$P-s SADDR=10.98.0.1 SIF=s0
        losses=$LOSSES
    fi
    for loss in $losses; do
        [ "$TOPO" = bridge ] && set_loss "$MAXN" "$loss"
        for n in $NS; do
            echo "== $TOPO loss $loss % N=$n ($(date -u +%T))" >&2
            want mcsctp && run_mcsctp group "$n" "$loss"
            want mcsctp && run_mcsctp fanout "$n" "$loss"
            want udp && run_udp mcast "$n" "$loss"
            want udp && run_udp ucast "$n" "$loss"
            # Rates ascending; a sweep stops at its first incomplete run.
            if want norm; then
                for r in $NORM_RATES; do run_norm "$r" "$n" "$loss"; last_complete || break; done
            fi
            if want pgm; then
                for r in $PGM_RATES; do run_pgm "$r" "$n" "$loss"; last_complete || break; done
            fi
        done
    done
done
python3 "$ROOT/scripts/bench-group-report.py" "$OUT/results.jsonl" | tee "$OUT/results.md"
