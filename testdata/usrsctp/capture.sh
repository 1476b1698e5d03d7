#!/usr/bin/env bash
# Reproduce the usrsctp SCTP-over-UDP (RFC 6951) captures in this directory.
#
#   testdata/usrsctp/capture.sh            # all scenarios
#   testdata/usrsctp/capture.sh idata abort   # only some
#
# Needs root, tshark, nft (nftables), gcc, libusrsctp-dev, libusrsctp-examples,
# unshare(1) and ip(8). The script re-executes itself inside a private network
# namespace (unshare -n) that holds only the loopback interface, so usrsctp's
# address lists contain nothing but 127.0.0.1 and ::1, the nftables rules are
# private, and no packet can leave the machine.
#
# For every scenario NAME it writes NAME.pcap, NAME.hex and NAME.txt:
#   NAME.hex  one line per packet: <frame#> <udp-src-port> <udp-dst-port> <hex>
#             where <hex> is the whole SCTP packet (the UDP payload)
#   NAME.txt  one line per packet: frame, time, ports, IP version, checksum
#             status, chunk types (numbers) and Wireshark's info column,
#             followed by per-chunk-type counts
# plus chunk-counts.txt (all captures).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEER_SRC="$ROOT/tests/usrsctp-peer/peer.c"
EX=/usr/lib/usrsctp

if [[ "${MCSCTP_CAP_IN_NETNS:-}" != 1 ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "capture.sh: must run as root (tshark on lo, nft, unshare)" >&2
		exit 1
	fi
	for t in tshark nft gcc unshare ip; do
		command -v "$t" >/dev/null || { echo "capture.sh: missing $t" >&2; exit 1; }
	done
	[[ -x $EX/echo_server && -x $EX/client ]] || { echo "capture.sh: install libusrsctp-examples" >&2; exit 1; }
	exec unshare -n env MCSCTP_CAP_IN_NETNS=1 bash "${BASH_SOURCE[0]}" "$@"
fi

ip link set lo up

OUT="$HERE"
TMP=$(mktemp -d /tmp/mcsctp-cap.XXXXXX)
PEER="$TMP/peer"
NFT_TABLE=mcsctp_cap
PIDS=()

# tshark/dumpcap warn on every start when run as root; drop only that line.
tshark() {
	command tshark "$@" 2> >(grep --line-buffered -v '^Running as user "root"' >&2)
}

log() { printf '[capture] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
		fi
	done
	for p in "${PIDS[@]}"; do
		# bounded wait, then SIGKILL
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	nft delete table inet "$NFT_TABLE" 2>/dev/null || true
	if [[ $rc -ne 0 ]]; then
		log "logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start a background process, remember its pid in $BGPID and in PIDS.
bg() {
	local logf=$1; shift
	"$@" >"$logf" 2>&1 &
	BGPID=$!
	PIDS+=("$BGPID")
}

# Wait (bounded) for a pid to exit; returns its exit code (124 on timeout).
wait_pid() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			local rc=0
			wait "$pid" || rc=$?
			return $rc
		fi
		sleep 0.1
	done
	return 124
}

stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid "$pid" 5 || { kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	return 0
}

# Wait (bounded) until a log file contains a pattern.
wait_log() {
	local file=$1 pat=$2 secs=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pat" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------------------
# capture helpers

CAP_PID=
CAP_NAME=
CAP_A=
CAP_B=

cap_start() { # name udpA udpB
	CAP_NAME=$1 CAP_A=$2 CAP_B=$3
	rm -f "$OUT/$CAP_NAME".{pcap,hex,txt}
	bg "$TMP/$CAP_NAME.tshark.log" command tshark -i lo -n -q -F pcap -w "$TMP/$CAP_NAME.raw.pcap" \
		-f "udp port $CAP_A or udp port $CAP_B"
	CAP_PID=$BGPID
	# "Capturing on" is printed once dumpcap has the device open; the pcap
	# header is written at the same point. Both, then a short settle time.
	wait_log "$TMP/$CAP_NAME.tshark.log" "Capturing on" 15 || die "tshark did not start"
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $TMP/$CAP_NAME.raw.pcap ]] && break
		sleep 0.1
	done
	[[ -s $TMP/$CAP_NAME.raw.pcap ]] || die "tshark wrote no pcap header"
	sleep 0.5
	log "capturing $CAP_NAME (udp $CAP_A <-> $CAP_B)"
}

cap_stop() {
	sleep 0.5
	kill -INT "$CAP_PID" 2>/dev/null || true
	wait_pid "$CAP_PID" 10 || die "tshark did not stop"
	cp "$TMP/$CAP_NAME.raw.pcap" "$OUT/$CAP_NAME.pcap"
	chmod 0644 "$OUT/$CAP_NAME.pcap"
	extract "$CAP_NAME" "$CAP_A" "$CAP_B"
}

# tshark read with SCTP decoding on both UDP ports and CRC-32C verification.
tsr() { # pcap a b args...
	local f=$1 a=$2 b=$3
	shift 3
	tshark -r "$f" -n -d "udp.port==$a,sctp" -d "udp.port==$b,sctp" \
		-o sctp.checksum:CRC-32C "$@"
}

extract() { # name a b
	local name=$1 a=$2 b=$3 pcap="$OUT/$1.pcap"
	# .hex: whole UDP payload (= SCTP packet), plain UDP decoding
	tshark -r "$pcap" -n -T fields -E separator=' ' \
		-e frame.number -e udp.srcport -e udp.dstport -e udp.payload |
		sed 's/://g' >"$OUT/$name.hex"
	# .txt: one line per packet
	{
		echo "# $name.pcap: SCTP over UDP (RFC 6951), udp ports $a <-> $b, usrsctp $(usrsctp_version)"
		echo "# frame time udp-src udp-dst ip checksum-status chunk-types | info"
		echo "# checksum-status: 1 = Good (CRC-32C verified by tshark); chunk types as numbers"
		tsr "$pcap" "$a" "$b" -T fields -E aggregator=, \
			-e frame.number -e frame.time_relative -e udp.srcport -e udp.dstport -e ip.version \
			-e sctp.checksum.status -e sctp.chunk_type -e _ws.col.Info |
			awk -F '\t' '{ printf "%5s %9.6f %5s > %-5s IPv%s csum=%s types=%s | %s\n", \
				$1, $2, $3, $4, substr($5, 1, 1), $6, $7, $8 }' | sed 's/ *$//'
		echo "#"
		echo "# chunk counts:"
		chunk_counts "$pcap" "$a" "$b" | sed 's/^/#   /'
		echo "# checksum: $(csum_summary "$pcap" "$a" "$b")"
	} >"$OUT/$name.txt"
	# every packet must decode as SCTP with a Good checksum
	local total good
	total=$(tshark -r "$pcap" -n -T fields -e frame.number | wc -l)
	good=$(tsr "$pcap" "$a" "$b" -T fields -e sctp.checksum.status | grep -c '^1$' || true)
	[[ $total -gt 0 ]] || die "$name: empty capture"
	[[ $total -eq $good ]] || die "$name: $good of $total packets have a Good SCTP checksum"
	[[ $(wc -l <"$OUT/$name.hex") -eq $total ]] || die "$name: hex line count"
	log "$name: $total packets, all checksums Good"
}

csum_summary() {
	local total good
	total=$(tshark -r "$1" -n -T fields -e frame.number | wc -l)
	good=$(tsr "$1" "$2" "$3" -T fields -e sctp.checksum.status | grep -c '^1$' || true)
	echo "$good of $total packets Good"
}

CHUNK_NAMES=(
	[0]=DATA [1]=INIT [2]=INIT_ACK [3]=SACK [4]=HEARTBEAT [5]=HEARTBEAT_ACK
	[6]=ABORT [7]=SHUTDOWN [8]=SHUTDOWN_ACK [9]=ERROR [10]=COOKIE_ECHO
	[11]=COOKIE_ACK [12]=ECNE [13]=CWR [14]=SHUTDOWN_COMPLETE [15]=AUTH
	[16]=NR_SACK [64]=I_DATA [128]=ASCONF_ACK [130]=RE_CONFIG [132]=PAD
	[192]=FORWARD_TSN [193]=ASCONF [194]=I_FORWARD_TSN
)

# "<count> <type> <NAME>" per chunk type present
chunk_counts() {
	tsr "$1" "$2" "$3" -T fields -e sctp.chunk_type | tr ',' '\n' | grep -v '^$' |
		sort -n | uniq -c | while read -r n t; do
			printf '%6d %3d %s\n' "$n" "$t" "${CHUNK_NAMES[$t]:-type$t}"
		done
}

count_type() { # name type -> number of chunks of that type
	tsr "$OUT/$1.pcap" "$CAP_A" "$CAP_B" -T fields -e sctp.chunk_type | tr ',' '\n' |
		grep -cx -- "$2" || true
}

need_types() { # name type...
	local name=$1 t n
	shift
	for t in "$@"; do
		n=$(count_type "$name" "$t")
		[[ $n -gt 0 ]] || die "$name: no ${CHUNK_NAMES[$t]} chunk (type $t) captured"
	done
}

usrsctp_version() {
	dpkg-query -W -f='${Version}' libusrsctp2 2>/dev/null || echo unknown
}

# ---------------------------------------------------------------------------
# nftables loss

nft_setup() {
	nft delete table inet "$NFT_TABLE" 2>/dev/null || true
	nft add table inet "$NFT_TABLE"
	# Drop on the *input* hook: a packet dropped on output makes usrsctp's
	# sendmsg fail (EPERM) and usrsctp simply sends it again, which is no loss
	# at all. Dropped on input, the packet has been seen by the capture on lo
	# (so the pcap shows it and its retransmission) but never reaches the peer.
	nft add chain inet "$NFT_TABLE" in '{ type filter hook input priority 0; }'
}

nft_teardown() {
	nft list table inet "$NFT_TABLE" >>"$TMP/nft-counters.log" 2>&1 || true
	nft delete table inet "$NFT_TABLE" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# peer helpers

peer_server() { # logname args...
	local logf=$TMP/$1.log
	shift
	bg "$logf" "$PEER" "$@"
	SRV_PID=$BGPID
	wait_log "$logf" "^LISTEN" 10 || die "peer server did not start ($logf)"
}

peer_client() { # logname expected-rc args...
	local logf=$TMP/$1.log want=$2 rc=0
	shift 2
	timeout 60 "$PEER" "$@" >"$logf" 2>&1 || rc=$?
	if [[ $rc -ne $want ]]; then
		cat "$logf" >&2
		die "peer client $* exited $rc (wanted $want)"
	fi
}

# ---------------------------------------------------------------------------
# scenarios

scenario_handshake_data_shutdown() {
	# Debian example programs: client -> echo_server (SCTP port 7).
	local A=30011 B=30012
	cap_start handshake-data-shutdown $A $B
	bg "$TMP/echo_server.log" "$EX/echo_server" $B $A
	local es=$BGPID
	# echo_server's stdout (usrsctp debug output) is block buffered: no
	# readiness line to wait for, so give it a moment to bind port 7
	sleep 1
	local rc=0
	printf 'hello mcsctp\nsecond line\nthird and last line\n' |
		timeout 30 "$EX/client" 127.0.0.1 7 0 $A $B >"$TMP/client.log" 2>&1 || rc=$?
	[[ $rc -eq 0 ]] || { tail -20 "$TMP/client.log" >&2; die "Debian client exited $rc"; }
	grep -aq "SCTP_SHUTDOWN_COMP" "$TMP/client.log" || die "Debian client: no SHUTDOWN_COMP"
	sleep 0.3
	stop_pid "$es"
	cap_stop
	need_types handshake-data-shutdown 1 2 10 11 0 3 7 8 14
	# usrsctp's INIT carries a Random parameter (0x8002): AUTH is on by default
	tsr "$OUT/handshake-data-shutdown.pcap" $A $B -Y 'sctp.chunk_type == 1' -T fields \
		-e sctp.parameter_type | grep -q '0x8002\|32770' ||
		die "handshake-data-shutdown: INIT without Random parameter"
}

scenario_idata() {
	local A=30021 B=30022 rc
	cap_start idata $A $B
	peer_server idata-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5002 --echo --idata --timeout 60
	local srv=$SRV_PID
	# usrsctp assumes a 1500 byte path MTU (not lo's 65536): 3000 B -> 3 I-DATA
	peer_client idata-client1 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5002 --idata --stream 1 --ppid 51 \
		--send-sizes 1,3000 --expect-echo
	peer_client idata-client2 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5002 --idata --stream 2 --ppid 53 --unordered \
		--send-sizes 1,3000 --expect-echo
	stop_pid "$srv"
	cap_stop
	need_types idata 64
	[[ $(tsr "$OUT/idata.pcap" $A $B -Y 'sctp.chunk_type == 64 && sctp.data_e_bit == 0' \
		-T fields -e frame.number | wc -l) -gt 0 ]] || die "idata: no fragmented message"
	[[ $(count_type idata 0) -eq 0 ]] || die "idata: DATA chunk seen although I-DATA was negotiated"
}

scenario_sack_gaps() {
	local A=30031 B=30032
	cap_start sack-gaps $A $B
	peer_server sack-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5003 --discard --once --rto-min 100 --rto-initial 300 --rto-max 1000 --timeout 90
	local srv=$SRV_PID
	nft_setup
	# Deterministic loss: every 10th packet that starts with a DATA chunk
	# (towards the receiver: gap blocks), and bursts of 4 consecutive packets
	# out of every 20 that start with a SACK (towards the sender). Only those
	# packets, so handshake and shutdown are never hit. The sender paces its
	# messages (2 ms) and uses a small RTO (10..200 ms), so a lost SACK burst
	# lets its T3 timer expire and it retransmits TSNs the receiver already
	# has: the receiver's next SACK lists them as duplicate TSNs.
	nft add rule inet $NFT_TABLE in udp dport $B @th,160,8 0 counter numgen inc mod 10 == 9 counter drop
	nft add rule inet $NFT_TABLE in udp dport $A @th,160,8 3 counter numgen inc mod 20 '< 4' counter drop
	peer_client sack-client 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5003 --send-sizes 300 --repeat 200 --nodelay --send-gap-ms 2 \
		--rto-min 10 --rto-initial 100 --rto-max 200 --timeout 90
	nft_teardown
	wait_pid "$srv" 20 || die "sack-gaps server did not finish"
	cap_stop
	need_types sack-gaps 0 3
	local gaps
	gaps=$(tsr "$OUT/sack-gaps.pcap" $A $B -Y 'sctp.sack_number_of_gap_blocks > 0' -T fields \
		-e frame.number | wc -l)
	[[ $gaps -gt 0 ]] || die "sack-gaps: no SACK with gap blocks"
	local dups
	dups=$(tsr "$OUT/sack-gaps.pcap" $A $B -Y 'sctp.sack_number_of_duplicated_tsns > 0' -T fields \
		-e frame.number | wc -l)
	log "sack-gaps: $gaps SACKs with gap blocks, $dups with duplicate TSNs"
	[[ $dups -gt 0 ]] || log "sack-gaps: WARNING no SACK with duplicate TSNs this time"
}

scenario_forward_tsn() {
	local A=30041 B=30042
	cap_start forward-tsn $A $B
	nft_setup
	# every 8th packet that starts with a DATA or I-DATA chunk is lost
	nft add rule inet $NFT_TABLE in udp dport $B @th,160,8 '{ 0, 64 }' counter numgen inc mod 8 == 5 counter drop
	# 1) DATA + FORWARD-TSN: PR-SCTP, no retransmissions allowed (RTX policy, 0)
	peer_server ftsn-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5004 --discard --once --rto-min 100 --rto-initial 300 --rto-max 1000 --timeout 90
	peer_client ftsn-client 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5004 --send-sizes 200 --repeat 120 --nodelay --prsctp-rtx 0 \
		--rto-min 100 --rto-initial 300 --rto-max 1000 --timeout 90
	wait_pid "$SRV_PID" 20 || die "forward-tsn server 1 did not finish"
	# 2) I-DATA + I-FORWARD-TSN: the same with RFC 8260 interleaving, TTL policy
	peer_server iftsn-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5014 --discard --once --idata --rto-min 100 --rto-initial 300 --rto-max 1000 --timeout 90
	peer_client iftsn-client 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5014 --send-sizes 200 --repeat 120 --nodelay --idata --prsctp-rtx 0 \
		--rto-min 100 --rto-initial 300 --rto-max 1000 --timeout 90
	wait_pid "$SRV_PID" 20 || die "forward-tsn server 2 did not finish"
	nft_teardown
	cap_stop
	need_types forward-tsn 192 64
	[[ $(count_type forward-tsn 194) -gt 0 ]] || log "forward-tsn: WARNING no I-FORWARD-TSN captured"
}

scenario_abort() {
	local A=30051 B=30052
	cap_start abort $A $B
	peer_server abort-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5005 --echo --cookie-life 1000 --timeout 90
	local srv=$SRV_PID
	# 1) ABORT via SO_LINGER 0 (usrsctp adds an empty User-Initiated Abort cause)
	peer_client abort1 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5005 --send-sizes 16 --expect-echo --abort
	# 2) ABORT with a User-Initiated Abort cause carrying a reason text
	peer_client abort2 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5005 --send-sizes 16 --expect-echo \
		--abort-with-cause="mcsctp capture: user abort"
	# 3) INIT to an SCTP port nobody listens on: the server's stack answers ABORT
	peer_client abort3 2 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5999 --send-sizes 16 --timeout 10
	# 4) ERROR (Stale Cookie): the first COOKIE ECHO is dropped; the client
	#    retransmits it after its 2 s initial RTO, after the 1 s cookie life
	nft_setup
	nft add rule inet $NFT_TABLE in udp dport $B @th,160,8 10 counter drop
	bg "$TMP/abort4.log" timeout 60 "$PEER" --local-udp-port $A --remote-udp-port $B \
		--bind 127.0.0.1 --connect 127.0.0.1:5005 --send-sizes 16 --expect-echo \
		--rto-initial 2000 --rto-min 1000 --timeout 30
	local cl=$BGPID
	sleep 1.2
	nft_teardown
	wait_pid "$cl" 40 || { cat "$TMP/abort4.log" >&2; die "stale-cookie client failed"; }
	stop_pid "$srv"
	cap_stop
	need_types abort 6 9
	[[ $(count_type abort 6) -ge 3 ]] || die "abort: expected 3 ABORT chunks"
	local causes
	causes=$(tsr "$OUT/abort.pcap" $A $B -T fields -e sctp.cause_code -Y 'sctp.cause_code')
	grep -q 0x000c <<<"$causes" || die "abort: no User-Initiated Abort cause"
	grep -q 0x0003 <<<"$causes" || die "abort: no Stale Cookie error cause"
}

scenario_heartbeat() {
	local A=30061 B=30062
	cap_start heartbeat $A $B
	peer_server hb-server --local-udp-port $B --remote-udp-port $A --bind 127.0.0.1 \
		--sctp-port 5006 --echo --once --hb-interval 200 --rto-min 100 --rto-initial 300 \
		--rto-max 500 --timeout 30
	peer_client hb-client 0 --local-udp-port $A --remote-udp-port $B --bind 127.0.0.1 \
		--connect 127.0.0.1:5006 --send-sizes 64 --expect-echo --idle 2200 --hb-interval 200 \
		--rto-min 100 --rto-initial 300 --rto-max 500
	wait_pid "$SRV_PID" 10 || die "heartbeat server did not finish"
	cap_stop
	need_types heartbeat 4 5
}

scenario_ipv6() {
	local A=30071 B=30072
	cap_start ipv6 $A $B
	# both ends bound to the wildcard: in this namespace that is ::1 and
	# 127.0.0.1, so INIT and INIT ACK list IPv6 and IPv4 address parameters
	peer_server ipv6-server --local-udp-port $B --remote-udp-port $A --sctp-port 5007 \
		--echo --once --timeout 30
	peer_client ipv6-client 0 --local-udp-port $A --remote-udp-port $B \
		--connect '[::1]:5007' --send-sizes 1,100 --expect-echo
	wait_pid "$SRV_PID" 10 || die "ipv6 server did not finish"
	cap_stop
	need_types ipv6 1 2 10 11 0 3 7 8 14
	tsr "$OUT/ipv6.pcap" $A $B -Y 'sctp.chunk_type == 1 && ipv6' -T fields -e sctp.parameter_type |
		grep -q '0x0006\|^6\|,6' || die "ipv6: INIT over IPv6 without IPv6 address parameter"
}

# ---------------------------------------------------------------------------

ALL=(handshake-data-shutdown idata sack-gaps forward-tsn abort heartbeat ipv6)
if [[ $# -gt 0 ]]; then SEL=("$@"); else SEL=("${ALL[@]}"); fi

log "building peer"
gcc -O2 -Wall -o "$PEER" "$PEER_SRC" -lusrsctp -lpthread

for s in "${SEL[@]}"; do
	case $s in
	handshake-data-shutdown) scenario_handshake_data_shutdown ;;
	idata) scenario_idata ;;
	sack-gaps) scenario_sack_gaps ;;
	forward-tsn) scenario_forward_tsn ;;
	abort) scenario_abort ;;
	heartbeat) scenario_heartbeat ;;
	ipv6) scenario_ipv6 ;;
	*) die "unknown scenario $s" ;;
	esac
done

# chunk-counts.txt over every capture present
{
	echo "# chunk type counts per capture (generated by capture.sh, usrsctp $(usrsctp_version))"
	for s in "${ALL[@]}"; do
		[[ -f $OUT/$s.pcap ]] || continue
		p=$(sed -n 's/.*udp ports \([0-9]*\) <-> \([0-9]*\).*/\1 \2/p' "$OUT/$s.txt" | head -1)
		read -r a b <<<"$p"
		echo "## $s ($(tshark -r "$OUT/$s.pcap" -n -T fields -e frame.number | wc -l) packets)"
		chunk_counts "$OUT/$s.pcap" "$a" "$b"
	done
} >"$OUT/chunk-counts.txt"
log "done: $(du -sh "$OUT" | cut -f1) in $OUT"
