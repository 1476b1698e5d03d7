#!/usr/bin/env bash
# Goodput over a real, lossy link: `mcsctp perf` against usrsctp's `tsctp`
# (SCTP over UDP, RFC 6951) between two network namespaces joined by a veth
# pair, with nftables dropping a share of the data packets at the receiver.
#
#   scripts/bench-lossy.sh                       # 0 % and 1 %, RTO.Min 1 s and 10 ms, 3 x 10 s
#   DURATION=3 REPS=1 scripts/bench-lossy.sh     # quick look
#   CAPTURE=5 scripts/bench-lossy.sh             # also a 5 s tshark capture per stack (diagnosis)
#   LOSSES="0 0.5 2" RTO_MINS="1000 50 10" scripts/bench-lossy.sh
#   MCSCTP_ARGS="--cc cubic" scripts/bench-lossy.sh   # extra `mcsctp perf` flags (both ends)
#
# The link: namespaces mcsctp-lossy-<pid>-{a,b}, veth va (10.99.0.1, in a,
# the sender) -- vb (10.99.0.2, in b, the receiver), MTU 1500. On both ends
# `ethtool -K ... tx-udp-segmentation off gso off gro off`: mcsctp sends
# UDP GSO batches (up to 64 packets in one skb); with segmentation offload
# on, the veth hands the batch to the other namespace in one piece and
# nftables drops (or passes) 64 packets at a time. With it off the kernel
# cuts the batch into packets before the veth, and GRO off keeps the
# receiving veth from gluing them back. Every mcsctp run checks that it
# worked: nftables' count of packets seen must equal the packets the mcsctp
# sender says it sent (plus the few of its shutdown).
#
# The loss: in b, `ip saddr 10.99.0.1 udp dport 9899 @th,160,8 { 0, 64 }
# numgen random mod 10000 < 100*LOSS drop`: LOSS % of the packets of the
# data direction whose first chunk is DATA or I-DATA (the byte after the
# 8-byte UDP and 12-byte SCTP headers). SACKs are not dropped, nor are the
# handshake and shutdown packets: a lost SHUTDOWN COMPLETE leaves the
# receiver repeating SHUTDOWN ACK to a sender that has gone, with T2
# backing off from RTO.Initial = 1 s, and its summary (printed when the
# association ends) minutes late. Counters of packets seen and dropped
# are reported per run.
#
# Each repetition runs, back to back and for each loss rate, tsctp -> tsctp
# and mcsctp -> mcsctp once per RTO.Min in RTO_MINS (`perf --rto-min`;
# tsctp keeps usrsctp's default of 1 s, it has no such flag). Goodput is
# what the *receiver* reports (bytes of the messages it got / time from
# its first to its last message); the sender's message count must equal
# the receiver's, and mcsctp runs with `--verify` (every message stamped
# with its sequence number, checked in order at the receiver). The median
# of REPS is reported, with the mcsctp senders' counters (T3-rtx
# expirations, fast retransmits, chunks retransmitted; medians) and the
# nftables counters.
#
# Both stacks get the same path MTU (1500: usrsctp's default, mcsctp
# `--mtu 1500`; 1200-byte messages travel as 1228-byte SCTP packets in
# both) and the same receive window: usrsctp advertises 131072 bytes
# (a_rwnd in its INIT / INIT ACK; the CAPTURE mode prints both stacks'),
# mcsctp is given `-R 132544` (its default is 1 MiB; WINDOW= changes the
# window offered): its a_rwnd keeps one 1472-byte packet of its buffer back
# for the chunk that fills a gap, so a buffer of WINDOW + 1472 offers WINDOW.
# tsctp runs with the LD_PRELOAD shim of scripts/bench-perf.sh that keeps
# usrsctp's debug printing off. Both send DATA (mcsctp `--idata false`).
#
# CAPTURE=<s>: afterwards, one run of each mcsctp RTO.Min and one of tsctp
# at the highest loss rate for <s> seconds, captured whole with tshark on
# vb (before nftables: dropped packets are in the capture); prints how
# many TSNs were sent three times or more (a retransmission was lost), the
# largest silences of the sender's data stream and what ended them (the
# transmission number of the first TSN sent after the silence: #3 = the
# second retransmission of a TSN whose fast retransmission was lost).
# A silence is a gap of more than SILENCE_MS (default 5) between two DATA
# packets. KEEP_PCAP=1 keeps the captures (several 100 MB at full speed).
#
# Needs root, iproute2, nftables, ethtool, gcc, cargo,
# libusrsctp-examples; tshark for CAPTURE. Everything it creates (the
# namespaces, with the veth pair and the nftables table inside them, and
# the processes in them) is removed on exit, also on failure and Ctrl-C.
# Output: a Markdown table on stdout and in $OUT/results.md, logs in
# $OUT/logs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
REPS=${REPS:-3}
LOSSES=${LOSSES:-"0 1"}
RTO_MINS=${RTO_MINS:-"1000 10"}
SIZE=${SIZE:-1200}
MTU=${MTU:-1500}
WINDOW=${WINDOW:-131072}
# mcsctp's receive buffer: the window offered plus the packet its a_rwnd
# keeps back (path MTU 1500 - 28 bytes of IPv4 and UDP headers).
RBUF=$((WINDOW + MTU - 28))
CAPTURE=${CAPTURE:-0}
SILENCE_MS=${SILENCE_MS:-5}
OUT=${OUT:-$ROOT/target/bench-lossy}
# Extra flags for both `mcsctp perf` ends, e.g. "--cc cubic".
MCSCTP_ARGS=${MCSCTP_ARGS:-}
TSCTP=${TSCTP:-/usr/lib/usrsctp/tsctp}
MCSCTP=$ROOT/target/release/mcsctp
NS_A=mcsctp-lossy-$$-a
NS_B=mcsctp-lossy-$$-b
IP_A=10.99.0.1
IP_B=10.99.0.2
# UDP encapsulation ports: the receiver's (where the data goes and the
# loss applies) and the sender's
PORT_B=9899
PORT_A=9900

log() { printf '[lossy] %s\n' "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, nftables)"
for c in ip nft ethtool gcc cargo; do
	command -v "$c" >/dev/null || die "$c missing"
done
[[ -x $TSCTP ]] || die "$TSCTP missing (install libusrsctp-examples)"
if [[ $CAPTURE != 0 ]]; then command -v tshark >/dev/null || die "tshark missing (CAPTURE)"; fi
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*

NFLOG=0
PIDS=()
cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for ns in "$NS_A" "$NS_B"; do
		if [[ -e /run/netns/$ns ]]; then
			# anything still running inside (children of the above)
			for p in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$p" 2>/dev/null || true
			done
			ip netns del "$ns" || log "could not delete namespace $ns"
		fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building mcsctp (release) and the LD_PRELOAD shim"
(cd "$ROOT" && cargo build --release --quiet --bin mcsctp)
gcc -O2 -Wall -Wextra -shared -fPIC -o "$OUT/nodebug.so" "$ROOT/scripts/bench/nodebug.c"
PRELOAD=$OUT/nodebug.so

# --- the link ----------------------------------------------------------------
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add va type veth peer name vb netns "$NS_B"
ip -n "$NS_A" addr add "$IP_A/24" dev va
ip -n "$NS_B" addr add "$IP_B/24" dev vb
for x in "$NS_A va" "$NS_B vb"; do
	read -r ns dev <<<"$x"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" mtu "$MTU" up
	ip netns exec "$ns" ethtool -K "$dev" tx-udp-segmentation off gso off gro off
	off=$(ip netns exec "$ns" ethtool -k "$dev" |
		grep -E '^(tx-udp-segmentation|generic-segmentation-offload|generic-receive-offload|rx-gro-list|rx-udp-gro-forwarding):' |
		tr -s ' \t' ' ' | paste -sd, -)
	log "$ns $dev: $off"
	grep -q ': on' <<<"$off" && die "$dev: an offload is still on: $off"
done

# (Re)creates the loss table in b with loss $1 % (two decimals at most).
set_loss() {
	local bp log=
	[[ $NFLOG == 1 ]] && log="log group 1"
	bp=$(awk -v l="$1" 'BEGIN { printf "%d", l * 100 + 0.5 }')
	in_b nft delete table inet lossy 2>/dev/null || true
	in_b nft -f - <<-EOF
		table inet lossy {
			counter seen {}
			counter dropped {}
			chain input {
				type filter hook input priority filter; policy accept;
				ip saddr $IP_A udp dport $PORT_B counter name seen
				ip saddr $IP_A udp dport $PORT_B @th,160,8 { 0, 64 } numgen random mod 10000 < $bp counter name dropped $log drop
			}
		}
	EOF
}
# nft counter $1's packets
nft_packets() {
	in_b nft list counter inet lossy "$1" | grep -oE 'packets [0-9]+' | grep -oE '[0-9]+'
}
# the namespace's count of UDP datagrams dropped for a full socket buffer
rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ { if (h) { for (i = 1; i <= NF; i++) if (n[i] == "RcvbufErrors") print $i } else { h = 1; for (i = 1; i <= NF; i++) n[i] = $i } }' /proc/net/snmp
}

# Whether something in b is bound to UDP port $1.
port_bound() {
	in_b cat /proc/net/udp /proc/net/udp6 2>/dev/null | grep -q -- "$(printf ':%04X ' "$1")"
}
# Waits (bounded) until something in b is bound to UDP port $1.
wait_bound() {
	local i
	for ((i = 0; i < 100; i++)); do
		if port_bound "$1"; then
			sleep 0.2
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Waits (bounded, $3 s) until file $1 has a line matching $2; prints it.
wait_line() {
	local i line
	for ((i = 0; i < $3 * 10; i++)); do
		line=$(grep -aoE "$2" "$1" | tail -1 || true)
		if [[ -n $line ]]; then
			echo "$line"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# a JSON number member $2 of the line $1
jnum() { grep -oE "\"$2\":[0-9.]+" <<<"$1" | head -1 | cut -d: -f2; }

# server and client command lines; $1 = m (mcsctp) or u (tsctp), $2 = RTO.Min
server_cmd() {
	case $1 in
	m) echo "$MCSCTP perf -p 5001 -L $IP_B -E $PORT_B --mtu $MTU --idata false -R $RBUF --rto-min $2 --json --verify${MCSCTP_ARGS:+ $MCSCTP_ARGS}" ;;
	u) echo "env LD_PRELOAD=$PRELOAD $TSCTP -p 5001 -L $IP_B -E $PORT_B" ;;
	esac
}
client_cmd() {
	case $1 in
	m) echo "$MCSCTP perf $IP_B -p 5001 -L $IP_A -E $PORT_A -U $PORT_B -T $DURATION -l $SIZE --mtu $MTU --idata false -R $RBUF --rto-min $2 --json --verify${MCSCTP_ARGS:+ $MCSCTP_ARGS}" ;;
	u) echo "env LD_PRELOAD=$PRELOAD $TSCTP -p 5001 -L $IP_A -E $PORT_A -U $PORT_B -T $DURATION -l $SIZE $IP_B" ;;
	esac
}

# run KIND RTO LOSS NAME -> R_* (receiver's goodput and messages, sender's
# counters, nft counters)
run() {
	local k=$1 rto=$2 loss=$3 name=$4 slog clog spid line sent rb0 ra0
	slog=$OUT/logs/$name.server.log
	clog=$OUT/logs/$name.client.log
	set_loss "$loss"
	rb0=$(rcvbuf_errors "$NS_B")
	ra0=$(rcvbuf_errors "$NS_A")
	port_bound "$PORT_B" && die "$name: UDP $PORT_B is still bound in $NS_B"
	# (not through in_b: $! must be the server itself)
	# shellcheck disable=SC2046
	ip netns exec "$NS_B" $(server_cmd "$k" "$rto") >"$slog" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	wait_bound "$PORT_B" || die "$name: server did not bind UDP $PORT_B ($slog)"
	kill -0 "$spid" 2>/dev/null || die "$name: server exited ($slog)"
	# shellcheck disable=SC2046
	in_a timeout $((DURATION + 120)) $(client_cmd "$k" "$rto") >"$clog" 2>&1 ||
		die "$name: client failed ($clog)"
	R_SEEN=$(nft_packets seen)
	R_DROPPED=$(nft_packets dropped)
	R_RCVBUF=$(($(rcvbuf_errors "$NS_B") - rb0))/$(($(rcvbuf_errors "$NS_A") - ra0))
	R_T3=- R_FR=- R_RTX=- R_PKTS=- R_RXDROP=-
	case $k in
	m)
		line=$(wait_line "$slog" '^\{.*\}$' 60) || die "$name: no summary from the server ($slog)"
		stop_pid "$spid"
		local c
		c=$(grep -E '^\{' "$clog" | tail -1)
		sent=$(jnum "$c" messages)
		R_TPUT=$(jnum "$line" throughput)
		R_MSGS=$(jnum "$line" messages)
		local bytes verr
		bytes=$(jnum "$line" bytes)
		verr=$(jnum "$line" verify_errors)
		[[ $bytes == $((sent * SIZE)) ]] || die "$name: sender sent $sent x $SIZE bytes, receiver got $bytes"
		[[ $verr == 0 ]] || die "$name: $verr messages failed --verify at the receiver"
		R_T3=$(jnum "$c" t3_expirations)
		R_FR=$(jnum "$c" fast_retransmits)
		R_RTX=$(jnum "$c" data_chunks_retransmitted)
		R_PKTS=$(jnum "$c" packets_sent)
		R_RXDROP=$(jnum "$line" data_chunks_dropped)
		# per-packet drops: nftables must have seen every packet the
		# sender counted (until all was acknowledged), plus the SHUTDOWN
		# exchange, not GSO batches
		((R_SEEN >= R_PKTS && R_SEEN <= R_PKTS + 10)) ||
			die "$name: nftables saw $R_SEEN packets, the sender sent $R_PKTS (offloads?)"
		;;
	u)
		line=$(wait_line "$slog" '[0-9]+, [0-9]+, [0-9]+, [0-9]+, [0-9.]+, [0-9.]+, [0-9]+$' 60) ||
			die "$name: no CSV line from the server ($slog)"
		stop_pid "$spid"
		for f in "$slog" "$clog"; do
			if grep -aq '^\[S\]' "$f"; then
				die "$name: usrsctp debug output in $f (the LD_PRELOAD shim did not take)"
			fi
		done
		sent=$(grep -aoE 'Sending of [0-9]+' "$clog" | grep -oE '[0-9]+$' || true)
		IFS=', ' read -r _len R_MSGS _calls _bytes _secs R_TPUT _notes <<<"$line"
		;;
	esac
	[[ $sent == "$R_MSGS" ]] || die "$name: sender sent $sent messages, receiver got $R_MSGS"
	log "$name: $(mb "$R_TPUT") MB/s, $R_MSGS messages; nft seen $R_SEEN dropped $R_DROPPED;" \
		"T3 $R_T3, fast rtx $R_FR, chunks rtx $R_RTX, packets sent $R_PKTS, rx window drops $R_RXDROP;" \
		"UDP rcvbuf drops b/a $R_RCVBUF"
}

mb() { awk -v x="$1" 'BEGIN { printf "%.1f", x / 1e6 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# all values, sorted, as "a–b–c"
spread() { sort -g | paste -sd, - | sed "s/,/, /g"; }

name_of() {
	case $1 in
	u) echo "tsctp" ;;
	*) echo "mcsctp RTO.Min ${1:1} ms" ;;
	esac
}

KINDS=(u)
for rto in $RTO_MINS; do KINDS+=("m$rto"); done
declare -A V
for ((r = 1; r <= REPS; r++)); do
	for loss in $LOSSES; do
		for kr in "${KINDS[@]}"; do
			k=${kr:0:1}
			rto=${kr:1}
			[[ -n $rto ]] || rto=1000
			run "$k" "$rto" "$loss" "$kr-loss$loss-$r"
			key="$kr,$loss"
			V[$key,tput]+="$R_TPUT "
			V[$key,seen]+="$R_SEEN "
			V[$key,dropped]+="$R_DROPPED "
			V[$key,t3]+="$R_T3 "
			V[$key,fr]+="$R_FR "
			V[$key,rtx]+="$R_RTX "
			V[$key,rxdrop]+="$R_RXDROP "
			V[$key,rcvbuf]+="$R_RCVBUF "
		done
	done
done

# --- diagnosis: captures ------------------------------------------------------
CAPTURE_REPORT=()
if [[ $CAPTURE != 0 ]]; then
	loss=$(tr ' ' '\n' <<<"$LOSSES" | sort -g | tail -1)
	for kr in "${KINDS[@]}"; do
		k=${kr:0:1}
		rto=${kr:1}
		[[ -n $rto ]] || rto=1000
		name=capture-$kr-loss$loss
		pcap=$OUT/logs/$name.pcap
		drops=$OUT/logs/$name.drops.pcap
		# every packet on vb (before nftables), and what nftables dropped
		# (the drop rule logs to nflog group 1 in this mode)
		ip netns exec "$NS_B" tshark -i vb -n -B 256 -F pcap -f udp -w "$pcap" >"$OUT/logs/$name.tshark.log" 2>&1 &
		tpid=$!
		PIDS+=("$tpid")
		ip netns exec "$NS_B" tshark -i nflog:1 -n -F pcap -w "$drops" >"$OUT/logs/$name.nflog.log" 2>&1 &
		npid=$!
		PIDS+=("$npid")
		for ((i = 0; i < 100; i++)); do
			grep -q 'Capturing on' "$OUT/logs/$name.tshark.log" &&
				grep -q 'Capturing on' "$OUT/logs/$name.nflog.log" && break
			sleep 0.1
		done
		sleep 1
		d=$DURATION
		DURATION=$CAPTURE
		NFLOG=1
		run "$k" "$rto" "$loss" "$name"
		NFLOG=0
		DURATION=$d
		sleep 0.5
		kill -INT "$tpid" "$npid"
		wait "$tpid" "$npid" 2>/dev/null || true
		capdrop=$(cat "$OUT/logs/$name.tshark.log" "$OUT/logs/$name.nflog.log" | grep -aE 'dropped' | paste -sd' ' - || true)
		dis=(-o sctp.tsn_analysis:FALSE -d "udp.port==$PORT_B,sctp" -d "udp.port==$PORT_A,sctp")
		rwnd=$(tshark -r "$pcap" -n "${dis[@]}" -Y 'sctp.chunk_type == 1 || sctp.chunk_type == 2' \
			-T fields -e ip.src -e sctp.init_credit -e sctp.initack_credit 2>/dev/null |
			awk '{ printf "%s a_rwnd %s; ", $1, $2 }')
		fields=(-T fields -E occurrence=a -E aggregator=, -e frame.time_epoch -e sctp.data_tsn_raw -e udp.length)
		tshark -r "$drops" -n "${dis[@]}" -Y "sctp.chunk_type == 0" "${fields[@]}" \
			2>/dev/null >"$OUT/logs/$name.drops.tsv"
		tshark -r "$pcap" -n "${dis[@]}" -Y "ip.src == $IP_A && sctp.chunk_type == 0" "${fields[@]}" \
			2>/dev/null >"$OUT/logs/$name.data.tsv"
		awk -F'\t' -v min="$(awk -v m="$SILENCE_MS" 'BEGIN { print m / 1000 }')" -f "$ROOT/scripts/bench/lossy-silences.awk" \
			"$OUT/logs/$name.drops.tsv" "$OUT/logs/$name.data.tsv" >"$OUT/logs/$name.silences.txt"
		[[ ${KEEP_PCAP:-0} == 1 ]] || rm -f "$pcap" "$drops"
		head1=$(sed -n 1p "$OUT/logs/$name.silences.txt")
		top=$(sed -n '2,6p' "$OUT/logs/$name.silences.txt" | paste -sd';' - | sed 's/;/; /g')
		CAPTURE_REPORT+=("- $(name_of "$kr"), loss $loss %, ${CAPTURE} s: $head1. Longest: ${top:-none}. INIT / INIT ACK: $rwnd${capdrop:+ Capture: $capdrop}")
		log "capture $kr: $head1"
		log "  longest: ${top:-none}"
		log "  $rwnd $capdrop"
	done
fi

# --- report -------------------------------------------------------------------
{
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- core src || echo '+changes'), ${DURATION} s per run, median of $REPS, ${SIZE}-byte messages, path MTU $MTU, mcsctp window $WINDOW${MCSCTP_ARGS:+, mcsctp perf $MCSCTP_ARGS}."
	echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) vCPUs, Linux $(uname -r), load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "usrsctp $(dpkg-query -W -f='${Version}' libusrsctp2 2>/dev/null || echo '?') (tsctp, debug printing off via LD_PRELOAD, RTO.Min 1 s), $(rustc --version)."
	echo
	echo "Goodput = user bytes per second at the receiver (MB = 10^6 bytes); in brackets every run. Counters are medians per run: nft packets seen/dropped at the receiver; the mcsctp sender's T3-rtx expirations, fast retransmits, DATA chunks retransmitted; the mcsctp receiver's DATA chunks dropped for want of window; UDP receive-buffer drops in b/a (all runs)."
	echo
	echo "| loss | sender → receiver | goodput | ÷ tsctp | nft seen / dropped | T3 | fast rtx | chunks rtx | rx drops | UDP rcvbuf drops b/a |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
	for loss in $LOSSES; do
		ut=$(tr ' ' '\n' <<<"${V[u,$loss,tput]}" | grep . | median)
		for kr in "${KINDS[@]}"; do
			key="$kr,$loss"
			t=$(tr ' ' '\n' <<<"${V[$key,tput]}" | grep . | median)
			runs=$(tr ' ' '\n' <<<"${V[$key,tput]}" | grep . | awk '{ printf "%.1f\n", $1 / 1e6 }' | spread)
			med() { tr ' ' '\n' <<<"${V[$key,$1]}" | grep . | { if [[ $kr == u && $1 != seen && $1 != dropped && $1 != rcvbuf ]]; then echo -; else median; fi; }; }
			ratio=$(awk -v a="$t" -v b="$ut" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }')
			[[ $kr == u ]] && ratio="–"
			echo "| $loss % | $(name_of "$kr") | $(mb "$t") MB/s ($runs) | **$ratio** | $(med seen) / $(med dropped) | $(med t3) | $(med fr) | $(med rtx) | $(med rxdrop) | ${V[$key,rcvbuf]% } |"
		done
	done
	if ((${#CAPTURE_REPORT[@]})); then
		echo
		echo "Captures (tshark on vb, before nftables, so dropped packets are included):"
		echo
		printf '%s\n' "${CAPTURE_REPORT[@]}"
	fi
	echo
	echo "Commands (in the namespaces; -T $DURATION, RTO.Min R):"
	echo
	echo '```sh'
	for k in m u; do
		c=$(server_cmd "$k" R)
		echo "ip netns exec \$B ${c//$ROOT\//}"
		c=$(client_cmd "$k" R)
		echo "ip netns exec \$A ${c//$ROOT\//}"
	done | sed "s|$OUT|\$OUT|g"
	echo '```'
} | tee "$OUT/results.md"
