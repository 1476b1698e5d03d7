#!/usr/bin/env bash
# `mcsctp perf --group N` on loopback, one table: for each N, the group
# without loss, the group with LOSS percent injected at each member, and
# the same workload as N unicast associations (--fanout), one after the
# other in the same run. Each configuration runs REPS times; the run with
# the median goodput_min is reported. Output: a Markdown table on stdout
# and in $OUT/results.md, every JSON object in $OUT/runs.jsonl.
#
#   scripts/bench-perf-group.sh                      # N = 1 4 16, 20000 x 1200 B, 3 runs
#   NS="4" COUNT=5000 REPS=1 scripts/bench-perf-group.sh
#
# Needs: cargo, jq.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS=${NS:-"1 4 16"}
COUNT=${COUNT:-20000}
LENGTH=${LENGTH:-1200}
LOSS=${LOSS:-1}
REPS=${REPS:-3}
OUT=${OUT:-$ROOT/target/bench-perf-group}
MCSCTP=$ROOT/target/release/mcsctp

log() { printf '[bench] %s\n' "$*" >&2; }
command -v jq >/dev/null || { log "FAIL: jq missing"; exit 1; }
mkdir -p "$OUT"
: >"$OUT/runs.jsonl"
log "building mcsctp (release)"
(cd "$ROOT" && cargo build --release --quiet --bin mcsctp)

# One configuration, REPS times: prints the JSON object of the median run
# (by goodput_min). A failed run (a member incomplete) stops the script.
run() {
	local i out
	for ((i = 0; i < REPS; i++)); do
		out=$("$MCSCTP" perf --group "$@" -n "$COUNT" -l "$LENGTH" --rto-min 10 --json) || {
			log "FAIL: mcsctp perf --group $* -n $COUNT -l $LENGTH"
			exit 1
		}
		echo "$out" >>"$OUT/runs.jsonl"
		echo "$out"
	done | jq -s -c 'sort_by(.goodput_min) | .[(length / 2 | floor)]'
}

{
	echo "| N | mode | loss % | complete | goodput/member min (MB/s) | repairs | fallbacks | server B/msg | server CPU (s) | CPU ÷ fan-out | members' CPU (s) | run (s) | p50 / p99 / p99.9 latency (ms) |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for n in $NS; do
		log "N = $n"
		fan=$(run "$n" --fanout)
		m0=$(run "$n")
		m1=$(run "$n" --loss "$LOSS")
		fcpu=$(jq .server_cpu_seconds <<<"$fan")
		for j in "$m0" "$m1" "$fan"; do
			jq -r --argjson fcpu "$fcpu" '"| \(.members) | \(.mode) | \(.loss) | \(.complete) | \(.goodput_min / 1e6 * 10 | round / 10) | \(.repairs) | \(.fallbacks) | \(.server_bytes_per_message | round) | \(.server_cpu_seconds * 1000 | round / 1000) | \(if $fcpu > 0 then (.server_cpu_seconds / $fcpu * 100 | round / 100) else "-" end) | \(.members_cpu_seconds * 100 | round / 100) | \(.seconds * 100 | round / 100) | \(.latency_p50_us / 1000 * 10 | round / 10) / \(.latency_p99_us / 1000 * 10 | round / 10) / \(.latency_p999_us / 1000 * 10 | round / 10) |"' <<<"$j"
		done
	done
} | tee "$OUT/results.md"
