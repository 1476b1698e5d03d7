#!/usr/bin/env bash
# Throughput over real sockets: `mcsctp perf` against itself and against
# usrsctp's `tsctp` (Debian libusrsctp-examples), SCTP over UDP (RFC 6951)
# on loopback, plus the raw UDP datagram rate of the same loopback
# (sendmmsg/recvmmsg, scripts/bench/udp-mmsg.c) as the physical baseline.
#
#   scripts/bench-perf.sh                  # sizes 100 1200 8192 65536, 5 s, 3 runs
#   DURATION=2 REPS=1 SIZES="1200" scripts/bench-perf.sh
#   PAIRS="mu" SIZES=100 scripts/bench-perf.sh   # only mcsctp -> tsctp
#
# Both stacks use a 1500-byte path MTU (MTU=..., mcsctp `perf --mtu`;
# usrsctp's default over UDP, checked in a capture: the largest SCTP packet
# each sends must be the same). Debian's tsctp switches usrsctp's debug
# printing on, which halves its speed: an LD_PRELOAD shim
# (scripts/bench/nodebug.c) keeps it off, and every tsctp log is checked for
# debug lines. Throughput is what the *receiver* reports (tsctp's CSV line:
# length x messages / seconds from its first to its last message); the
# sender's message count must match it. Each configuration runs REPS times,
# the median is reported. Output: a Markdown table on stdout and in
# $OUT/results.md, logs in $OUT/logs.
#
# Needs: cargo, gcc, libusrsctp-examples; tshark for the MTU check (skipped
# without it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-5}
MAIN_DURATION=$DURATION
REPS=${REPS:-3}
SIZES=${SIZES:-"100 1200 8192 65536"}
# sender→receiver pairs: m = mcsctp perf, u = usrsctp tsctp (mu: mcsctp
# sends, tsctp receives)
PAIRS=${PAIRS:-"mm uu mu um"}
MTU=${MTU:-1500}
# mcsctp offers I-DATA by default; usrsctp (tsctp) sends DATA. The table
# compares like with like: DATA on both (IDATA=true to measure I-DATA).
IDATA=${IDATA:-false}
BASE_PORT=${BASE_PORT:-47200}
OUT=${OUT:-$ROOT/target/bench-perf}
TSCTP=${TSCTP:-/usr/lib/usrsctp/tsctp}
MCSCTP=$ROOT/target/release/mcsctp

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ -x $TSCTP ]] || die "$TSCTP missing (install libusrsctp-examples)"
command -v gcc >/dev/null || die "gcc missing"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building mcsctp (release), the LD_PRELOAD shim and udp-mmsg"
(cd "$ROOT" && cargo build --release --quiet --bin mcsctp)
gcc -O2 -Wall -Wextra -shared -fPIC -o "$OUT/nodebug.so" "$ROOT/scripts/bench/nodebug.c"
gcc -O2 -Wall -Wextra -pthread -o "$OUT/udp-mmsg" "$ROOT/scripts/bench/udp-mmsg.c"
PRELOAD=$OUT/nodebug.so

# Waits (bounded) until something is bound to UDP port $1.
wait_bound() {
	local hex i
	hex=$(printf ':%04X ' "$1")
	for ((i = 0; i < 100; i++)); do
		if grep -q -- "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null; then
			sleep 0.2
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Waits (bounded, $2 s) until file $1 has a tsctp CSV line; prints it.
wait_csv() {
	local i line
	for ((i = 0; i < $2 * 10; i++)); do
		# the line may follow debug output on the same line: take the tail
		line=$(grep -aoE '[0-9]+, [0-9]+, [0-9]+, [0-9]+, [0-9.]+, [0-9.]+, [0-9]+$' "$1" | tail -1 || true)
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

COMMANDS=()
note_cmd() {
	local c="$*"
	c=${c//$ROOT\//}
	c=${c//$OUT/\$OUT}
	c=$(sed -E "s/-T [0-9]+/-T $MAIN_DURATION/" <<<"$c")
	local k
	for k in "${COMMANDS[@]}"; do [[ $k == "$c" ]] && return 0; done
	COMMANDS+=("$c")
}

# server and client command lines; $1 = kind (m or u), $2 = size
server_cmd() {
	case $1 in
	m) echo "$MCSCTP perf -p 5001 -L 127.0.0.1 -E $SPORT --mtu $MTU --idata $IDATA" ;;
	u) echo "env LD_PRELOAD=$PRELOAD $TSCTP -p 5001 -L 127.0.0.1 -E $SPORT" ;;
	esac
}
client_cmd() {
	case $1 in
	m) echo "$MCSCTP perf 127.0.0.1 -p 5001 -L 127.0.0.1 -E $CPORT -U $SPORT -T $DURATION -l $2 --mtu $MTU --idata $IDATA" ;;
	u) echo "env LD_PRELOAD=$PRELOAD $TSCTP -p 5001 -L 127.0.0.1 -E $CPORT -U $SPORT -T $DURATION -l $2 127.0.0.1" ;;
	esac
}

# The host's count of UDP datagrams dropped for a full receive buffer.
udp_rcvbuf_errors() {
	awk '/^Udp:/ { if (h) { for (i = 1; i <= NF; i++) if (n[i] == "RcvbufErrors") print $i } else { h = 1; for (i = 1; i <= NF; i++) n[i] = $i } }' /proc/net/snmp
}

# run PAIR SIZE REP -> sets R_TPUT and R_MSGS (the receiver's figures).
# PAIR is sender then receiver: "mu" = mcsctp perf client sending to a
# tsctp server. The receiver is the server.
RUN=0
run() {
	local pair=$1 size=$2 rep=$3 c=${1:0:1} s=${1:1:1}
	RUN=$((RUN + 1))
	SPORT=$((BASE_PORT + 2 * (RUN % 50)))
	CPORT=$((SPORT + 1))
	local name="$pair-$size-$rep" slog clog scmd ccmd spid csv sent
	slog=$OUT/logs/$name.server.log
	clog=$OUT/logs/$name.client.log
	scmd=$(server_cmd "$s")
	ccmd=$(client_cmd "$c" "$size")
	note_cmd "$(SPORT=9899 CPORT=9900 server_cmd "$s")"
	note_cmd "$(SPORT=9899 CPORT=9900 client_cmd "$c" SIZE)"
	local drops0
	drops0=$(udp_rcvbuf_errors)
	# shellcheck disable=SC2086
	$scmd >"$slog" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	wait_bound "$SPORT" || die "$name: server did not bind UDP $SPORT ($slog)"
	# shellcheck disable=SC2086
	timeout $((DURATION + 60)) $ccmd >"$clog" 2>&1 || die "$name: client failed ($clog)"
	csv=$(wait_csv "$slog" 30) || die "$name: no CSV line from the server ($slog)"
	stop_pid "$spid"
	for f in "$slog" "$clog"; do
		if grep -aq '^\[S\]' "$f"; then
			die "$name: usrsctp debug output in $f (the LD_PRELOAD shim did not take)"
		fi
	done
	sent=$(grep -aoE 'Sending of [0-9]+' "$clog" | grep -oE '[0-9]+$' || true)
	IFS=', ' read -r _len msgs _calls _bytes _secs tput _notes <<<"$csv"
	[[ $sent == "$msgs" ]] || die "$name: sender sent $sent messages, receiver got $msgs"
	log "$name: $csv (UDP receive-buffer drops on this host: $(($(udp_rcvbuf_errors) - drops0)))"
	R_TPUT=$tput
	R_MSGS=$msgs
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# --- the path MTU both stacks use: largest SCTP packet each sends ----------
MTU_NOTE="not checked (no tshark)"
if command -v tshark >/dev/null && [[ $(id -u) -eq 0 ]]; then
	check_mtu() { # pair -> R_MAX: largest UDP payload from the sender
		local pair=$1 pcap=$OUT/logs/mtu-$1.pcap tpid i max
		RUN=$((RUN + 1))
		SPORT=$((BASE_PORT + 2 * (RUN % 50)))
		CPORT=$((SPORT + 1))
		tshark -i lo -n -F pcap -f "udp src port $CPORT and udp dst port $SPORT" -w "$pcap" \
			>"$OUT/logs/mtu-$pair.tshark.log" 2>&1 &
		tpid=$!
		PIDS+=("$tpid")
		for ((i = 0; i < 100; i++)); do
			grep -q 'Capturing on' "$OUT/logs/mtu-$pair.tshark.log" && break
			sleep 0.1
		done
		sleep 1
		local d=$DURATION
		DURATION=1
		RUN=$((RUN - 1))
		run "$pair" 8192 mtu
		DURATION=$d
		sleep 0.5
		kill -INT "$tpid"
		wait "$tpid" 2>/dev/null || true
		# mcsctp sends GSO batches, which the tap on lo sees unsegmented:
		# take the first chunk of each packet (a full DATA chunk fills a
		# packet: packet = 12-byte common header + chunk)
		max=$(tshark -r "$pcap" -n -d "udp.port==$SPORT,sctp" -E occurrence=f \
			-Y 'sctp.chunk_type == 0 || sctp.chunk_type == 64' -T fields -e sctp.chunk_length 2>/dev/null | sort -n | tail -1)
		[[ -n $max ]] || die "MTU check $pair: nothing captured"
		R_MAX=$((max + 12))
		rm -f "$pcap"
	}
	check_mtu mm
	mm=$R_MAX
	check_mtu uu
	uu=$R_MAX
	log "largest SCTP packet (UDP payload): mcsctp $mm, usrsctp $uu"
	[[ $mm == "$uu" ]] || die "the stacks use different packet sizes: mcsctp $mm, usrsctp $uu"
	MTU_NOTE="largest SCTP packet (UDP payload) in an 8 KiB run: mcsctp $mm bytes, usrsctp $uu bytes (IPv4 + UDP headers: $((mm + 28)) = path MTU)"
fi

# --- raw UDP ---------------------------------------------------------------
log "raw UDP: 1200-byte datagrams, sendmmsg/recvmmsg batches of 64"
note_cmd "$OUT/udp-mmsg -s 1200 -b 64 -t $DURATION"
UDP_DG=()
UDP_BPS=()
for ((r = 1; r <= REPS; r++)); do
	line=$("$OUT/udp-mmsg" -s 1200 -b 64 -t "$DURATION")
	log "$line"
	UDP_DG+=("$(grep -oE 'datagrams/s=[0-9]+' <<<"$line" | cut -d= -f2)")
	UDP_BPS+=("$(grep -oE 'bytes/s=[0-9]+' <<<"$line" | cut -d= -f2)")
done
udp_dg=$(printf '%s\n' "${UDP_DG[@]}" | median)
udp_bps=$(printf '%s\n' "${UDP_BPS[@]}" | median)
# For context: the same with UDP GSO/GRO, which mcsctp uses (on loopback a
# GSO batch reaches a GRO socket without ever being cut into datagrams).
log "raw UDP: 1200-byte datagrams, GSO/GRO"
note_cmd "$OUT/udp-mmsg -s 1200 -g -t $DURATION"
GSO_BPS=()
GSO_DG=()
for ((r = 1; r <= REPS; r++)); do
	line=$("$OUT/udp-mmsg" -s 1200 -g -t "$DURATION")
	log "$line"
	GSO_DG+=("$(grep -oE 'datagrams/s=[0-9]+' <<<"$line" | cut -d= -f2)")
	GSO_BPS+=("$(grep -oE 'bytes/s=[0-9]+' <<<"$line" | cut -d= -f2)")
done
gso_dg=$(printf '%s\n' "${GSO_DG[@]}" | median)
gso_bps=$(printf '%s\n' "${GSO_BPS[@]}" | median)

# --- SCTP -----------------------------------------------------------------
declare -A TPUT MSGS
for size in $SIZES; do
	for pair in $PAIRS; do
		ts=()
		ms=()
		for ((r = 1; r <= REPS; r++)); do
			run "$pair" "$size" "$r"
			ts+=("$R_TPUT")
			ms+=("$R_MSGS")
		done
		TPUT[$pair,$size]=$(printf '%s\n' "${ts[@]}" | median)
		MSGS[$pair,$size]=$(printf '%s\n' "${ms[@]}" | median)
	done
done

# --- report ----------------------------------------------------------------
mb() { awk -v x="$1" 'BEGIN { printf "%.1f", x / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), ${DURATION} s per run, median of $REPS, path MTU $MTU."
	echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) vCPUs, Linux $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "usrsctp $(dpkg-query -W -f='${Version}' libusrsctp2 2>/dev/null || echo '?') (Debian tsctp, debug printing off via LD_PRELOAD), $(rustc --version)."
	echo "MTU check: $MTU_NOTE."
	echo
	echo "Throughput = user bytes per second at the receiver (MB = 10^6 bytes)."
	echo
	echo "| message | mcsctp→mcsctp | tsctp→tsctp | ratio | mcsctp→tsctp | tsctp→mcsctp | mcsctp msg/s | mcsctp ÷ raw UDP (sendmmsg) |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	for size in $SIZES; do
		# a pair left out of PAIRS reports 0
		mm=${TPUT[mm,$size]:-0}
		uu=${TPUT[uu,$size]:-0}
		msgs=$(awk -v m="${MSGS[mm,$size]:-0}" -v d="$DURATION" 'BEGIN { printf "%.0f", m / d }')
		vs_udp="–"
		[[ $size == 1200 ]] && vs_udp="**$(ratio "$mm" "$udp_bps")×**"
		echo "| $size B | $(mb "$mm") MB/s | $(mb "$uu") MB/s | **$(ratio "$mm" "$uu")×** | $(mb "${TPUT[mu,$size]:-0}") MB/s | $(mb "${TPUT[um,$size]:-0}") MB/s | $msgs | $vs_udp |"
	done
	echo
	echo "Raw UDP, 1200-byte datagrams (median of $REPS): sendmmsg/recvmmsg, 64 per call: **$(mb "$udp_bps") MB/s**, ${udp_dg} datagrams/s received; with UDP GSO/GRO (as mcsctp sends and receives): $(mb "$gso_bps") MB/s, ${gso_dg} datagrams/s."
	echo
	echo "Commands (\$OUT = target/bench-perf; ports as used by hand, the script picks its own):"
	echo
	echo '```sh'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
} | tee "$OUT/results.md"
