#!/usr/bin/env bash
# Self-test of the usrsctp test peer: peer <-> peer and peer <-> the Debian
# usrsctp example programs (libusrsctp-examples), over UDP encapsulation on
# loopback. Runs in a private network namespace (unshare -n, needs root).
#
#   tests/usrsctp-peer/selftest.sh      -> "N passed, N failed", exit 0/1
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EX=/usr/lib/usrsctp

if [[ "${MCSCTP_PEER_IN_NETNS:-}" != 1 ]]; then
	[[ $(id -u) -eq 0 ]] || { echo "selftest.sh: needs root (unshare -n)" >&2; exit 1; }
	exec unshare -n env MCSCTP_PEER_IN_NETNS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up

TMP=$(mktemp -d /tmp/mcsctp-peer-test.XXXXXX)
PEER=$TMP/peer
PIDS=()
PASS=0
FAIL=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

gcc -O2 -Wall -Wextra -Werror -o "$PEER" "$HERE/peer.c" -lusrsctp -lpthread

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
nok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $1"
	shift
	local f
	for f in "$@"; do [[ -f $f ]] && sed 's/^/    # /' "$f" | tail -15; done
}

# start_bg LOG CMD... -> $BG
start_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BG=$!
	PIDS+=("$BG")
}

wait_for() { # file pattern seconds
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait (bounded) for a child pid; its exit code goes to $RC (124: killed)
wait_rc() {
	local pid=$1 secs=$2 i
	RC=0
	for ((i = 0; i < secs * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" || RC=$?
			return 0
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	RC=124
}

PORT=21000
next_ports() { PORT=$((PORT + 2)); A=$PORT; B=$((PORT + 1)); SP=$((PORT + 100)); }

# echo_case NAME "server opts" "client opts" [connect-host]
echo_case() {
	local name=$1 sopts=$2 copts=$3 host=${4:-127.0.0.1} crc srv sc
	next_ports
	# shellcheck disable=SC2086
	start_bg "$TMP/$name.srv" "$PEER" --local-udp-port $B --remote-udp-port $A --sctp-port $SP \
		--echo --once --timeout 60 $sopts
	srv=$BG
	wait_for "$TMP/$name.srv" "^LISTEN" 5 || { nok "$name (server start)" "$TMP/$name.srv"; return; }
	crc=0
	# shellcheck disable=SC2086
	timeout 60 "$PEER" --local-udp-port $A --remote-udp-port $B --connect "$host:$SP" \
		--send-sizes 1,1024,102400,1048576 --expect-echo $copts >"$TMP/$name.cli" 2>&1 || crc=$?
	wait_rc "$srv" 10
	sc=$RC
	if [[ $crc -eq 0 && $sc -eq 0 && $(grep -c '^OK size=' "$TMP/$name.cli") -eq 4 ]] &&
		grep -q 'EVENT assoc_change state=COMM_UP' "$TMP/$name.cli" &&
		grep -q 'EVENT shutdown' "$TMP/$name.srv" &&
		grep -q 'state=SHUTDOWN_COMP' "$TMP/$name.srv"; then
		ok "$name"
	else
		nok "$name (client rc=$crc server rc=$sc)" "$TMP/$name.cli" "$TMP/$name.srv"
	fi
}

echo_case echo-ordered "" ""
echo_case echo-unordered "" "--unordered --stream 5 --ppid 51"
echo_case echo-idata "--idata" "--idata --stream 3 --ppid 53"
echo_case echo-idata-unordered "--idata --max-msg 1048576" "--idata --unordered --max-msg 1048576"
echo_case echo-ipv6 "" "" "[::1]"
echo_case echo-ipv6-idata "--idata --bind ::1" "--idata" "[::1]"
echo_case echo-prsctp-ttl "" "--prsctp-ttl 5000"
echo_case echo-prsctp-rtx "" "--prsctp-rtx 3 --nodelay"
echo_case echo-hb-mtu "--hb-interval 200" "--hb-interval 200 --mtu 1280 --rto-min 100"

# I-DATA must be negotiated (supports=...INTERLEAVING) when both ask for it
if grep -q 'supports=.*INTERLEAVING' "$TMP/echo-idata.cli" && ! grep -q INTERLEAVING "$TMP/echo-ordered.cli"; then
	ok "idata-negotiated"
else
	nok "idata-negotiated" "$TMP/echo-idata.cli"
fi

# discard server, many messages, no echo
next_ports
start_bg "$TMP/discard.srv" "$PEER" --local-udp-port $B --remote-udp-port $A --sctp-port $SP --discard --once
srv=$BG
wait_for "$TMP/discard.srv" "^LISTEN" 5 || true
rc=0
timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect 127.0.0.1:$SP \
	--send-sizes 100,2000 --repeat 50 >"$TMP/discard.cli" 2>&1 || rc=$?
wait_rc "$srv" 10
	sc=$RC
if [[ $rc -eq 0 && $sc -eq 0 ]] && grep -q 'CLOSED messages=100 bytes=105000 end=eof' "$TMP/discard.srv"; then
	ok "discard"
else
	nok "discard (rc=$rc/$sc)" "$TMP/discard.cli" "$TMP/discard.srv"
fi

# aborts: one server for three clients
next_ports
start_bg "$TMP/abort.srv" "$PEER" --local-udp-port $B --remote-udp-port $A --sctp-port $SP --echo --timeout 60
srv=$BG
wait_for "$TMP/abort.srv" "^LISTEN" 5 || true
rc=0
timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect 127.0.0.1:$SP \
	--send-sizes 10 --expect-echo --abort >"$TMP/abort1.cli" 2>&1 || rc=$?
wait_for "$TMP/abort.srv" "state=COMM_LOST" 5 || true
if [[ $rc -eq 0 ]] && grep -q 'DONE abort' "$TMP/abort1.cli" &&
	grep -q 'EVENT assoc_change state=COMM_LOST' "$TMP/abort.srv"; then
	ok "abort-linger"
else
	nok "abort-linger (rc=$rc)" "$TMP/abort1.cli" "$TMP/abort.srv"
fi
rc=0
timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect 127.0.0.1:$SP \
	--send-sizes 10 --expect-echo --abort-with-cause=bye >"$TMP/abort2.cli" 2>&1 || rc=$?
# the peer's COMM_LOST carries the ABORT chunk: cause 0x000c, length 7, "bye"
if [[ $rc -eq 0 ]] && wait_for "$TMP/abort.srv" "abort=0600000b000c0007627965" 5; then
	ok "abort-with-cause"
else
	nok "abort-with-cause (rc=$rc)" "$TMP/abort2.cli" "$TMP/abort.srv"
fi
rc=0
timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect 127.0.0.1:$((SP + 1)) \
	--send-sizes 10 >"$TMP/abort3.cli" 2>&1 || rc=$?
if [[ $rc -eq 2 ]] && grep -q 'CANT_STR_ASSOC' "$TMP/abort3.cli"; then
	ok "connect-refused"
else
	nok "connect-refused (rc=$rc)" "$TMP/abort3.cli"
fi
kill -TERM "$srv" 2>/dev/null || true

# time limit: nobody on the remote UDP port
next_ports
rc=0
timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect 127.0.0.1:$SP \
	--send-sizes 10 --timeout 2 >"$TMP/timeout.cli" 2>&1 || rc=$?
if [[ $rc -eq 2 ]] && grep -q TIMEOUT "$TMP/timeout.cli"; then ok "timeout"; else nok "timeout (rc=$rc)" "$TMP/timeout.cli"; fi

# usage errors
rc=0
"$PEER" --connect 127.0.0.1:1 >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] && ok "usage-missing-udp-ports" || nok "usage-missing-udp-ports (rc=$rc)"
rc=0
"$PEER" --local-udp-port 1 --remote-udp-port 2 --bogus >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] && ok "usage-unknown-flag" || nok "usage-unknown-flag (rc=$rc)"

# peer client -> Debian echo_server (SCTP port 7; it echoes only what fits its
# 10240 byte buffer, so sizes stay below that)
next_ports
start_bg "$TMP/es.log" "$EX/echo_server" $B $A
es=$BG
sleep 1
for host in 127.0.0.1 '[::1]'; do
	rc=0
	timeout 30 "$PEER" --local-udp-port $A --remote-udp-port $B --connect "$host:7" \
		--send-sizes 1,100,1024,10000 --expect-echo --stream 2 --ppid 7 >"$TMP/es.cli" 2>&1 || rc=$?
	if [[ $rc -eq 0 && $(grep -c '^OK size=' "$TMP/es.cli") -eq 4 ]]; then
		ok "peer-client->debian-echo_server $host"
	else
		nok "peer-client->debian-echo_server $host (rc=$rc)" "$TMP/es.cli"
	fi
done
kill -TERM "$es" 2>/dev/null || true

# Debian client -> peer echo server
next_ports
start_bg "$TMP/dc.srv" "$PEER" --local-udp-port $B --remote-udp-port $A --sctp-port $SP --echo --once
srv=$BG
wait_for "$TMP/dc.srv" "^LISTEN" 5 || true
rc=0
# the Debian client shuts down at stdin EOF: feed lines slowly so the echoes
# come back before its SHUTDOWN
{ printf 'hello\n'; sleep 0.5; printf 'second line\n'; sleep 0.5; } | timeout 30 "$EX/client" 127.0.0.1 $SP 0 $A $B >"$TMP/dc.cli" 2>&1 || rc=$?
wait_rc "$srv" 10
	sc=$RC
if [[ $rc -eq 0 && $sc -eq 0 ]] && grep -aq '^second line$' "$TMP/dc.cli" &&
	grep -q 'RECV size=6 ' "$TMP/dc.srv" && grep -q 'RECV size=12 ' "$TMP/dc.srv"; then
	ok "debian-client->peer-echo"
else
	nok "debian-client->peer-echo (rc=$rc/$sc)" "$TMP/dc.srv"
fi

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
