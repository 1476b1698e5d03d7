#!/usr/bin/env bash
# The multicast-vs-fan-out report (issue 12 item 4): `mcsctp perf --group`
# sweeps on loopback, one CSV row per run, then the SVG plots.
#
#   scripts/report.sh        # sweep -> docs/report/perf-group.csv, then render
#   COUNT=2000 REPS=1 NS="1 4" LOSSES="0 1" SIZES="" scripts/report.sh   # smaller
#
# Sweeps (each configuration runs REPS times, COUNT messages; the plots
# average the runs of a configuration):
#   N in NS x {multicast, fan-out}, loss 0, 1200-byte messages
#   loss in LOSSES percent (multicast, N = LOSS_N, 1200 bytes); fan-out has
#     no injected loss (perf --group --loss applies to multicast members only)
#   message size in SIZES (N = SIZE_N, loss 0, multicast and fan-out)
# then renders the CSV with
#   cargo run --release --example report_plots -- docs/report/perf-group.csv docs/report/
#
# Needs: cargo, jq.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS=${NS:-"1 2 4 8 16 32"}
LOSSES=${LOSSES:-"0 1 2 5"}
LOSS_N=${LOSS_N:-16}
SIZES=${SIZES:-"100 400 4000"}
SIZE_N=${SIZE_N:-8}
COUNT=${COUNT:-20000}
REPS=${REPS:-3}
LENGTH=${LENGTH:-1200}
OUT=${OUT:-$ROOT/docs/report}
CSV=$OUT/perf-group.csv
MCSCTP=$ROOT/target/release/mcsctp

log() { printf '[report] %s\n' "$*" >&2; }
command -v jq >/dev/null || { log "FAIL: jq missing"; exit 1; }
mkdir -p "$OUT"
log "building mcsctp (release)"
(cd "$ROOT" && cargo build --release --quiet --bin mcsctp)

# The CDF columns: lat_pQ_us for each quantile of perf --group's
# latency_cdf_q (percent), lat_max_us for the quantile 1.
CDF_Q="1 5 10 20 30 40 50 60 70 80 90 95 99 99.9"
header="mode,members,plain,length,loss,messages,seconds,complete,goodput_min,goodput_mean,repairs,fallbacks,server_bytes_multicast,server_bytes_unicast,server_bytes_per_message,server_cpu_seconds,server_cpu_us_per_message,members_cpu_seconds"
for q in $CDF_Q; do header+=",lat_p${q}_us"; done
header+=",lat_max_us"
# Written to $CSV.new, moved over $CSV when the sweep is complete.
echo "$header" >"$CSV.new"
FAILED=$OUT/failed-runs.txt
: >"$FAILED"

# One run: appends its CSV row. A failed run (a member incomplete) stops
# the script.
run() {
	local out i
	for ((i = 0; i < REPS; i++)); do
		log "perf --group $*"
		# A failed run (members not connected in time, a member
		# incomplete) is logged and run once more; a second failure stops.
		out=$("$MCSCTP" perf --group "$@" --rto-min 10 --json) || {
			log "FAILED once: mcsctp perf --group $* (running it again)"
			echo "perf --group $*" >>"$FAILED"
			out=$("$MCSCTP" perf --group "$@" --rto-min 10 --json) || {
				log "FAIL: mcsctp perf --group $*"
				exit 1
			}
		}
		jq -r '[.mode, .members, .plain, .length, .loss, .messages, .seconds, .complete,
			.goodput_min, .goodput_mean, .repairs, .fallbacks,
			.server_bytes_multicast, .server_bytes_unicast, .server_bytes_per_message,
			.server_cpu_seconds, (.server_cpu_seconds / .messages * 1e9 | round / 1000),
			.members_cpu_seconds] + .latency_cdf_us | @csv' <<<"$out" | tr -d '"' >>"$CSV.new"
	done
}

start=$(date +%s)
for n in $NS; do
	run "$n" -n "$COUNT" -l "$LENGTH"
	run "$n" --fanout -n "$COUNT" -l "$LENGTH"
done
for loss in $LOSSES; do
	# N = LOSS_N at loss 0 is already in the N sweep.
	if [[ $loss == 0 && " $NS " == *" $LOSS_N "* ]]; then continue; fi
	run "$LOSS_N" --loss "$loss" -n "$COUNT" -l "$LENGTH"
done
if [[ " $NS " != *" $LOSS_N "* ]]; then run "$LOSS_N" --fanout -n "$COUNT" -l "$LENGTH"; fi
for size in $SIZES; do
	run "$SIZE_N" -n "$COUNT" -l "$size"
	run "$SIZE_N" --fanout -n "$COUNT" -l "$size"
done
mv "$CSV.new" "$CSV"
log "sweep took $(($(date +%s) - start)) s; $(($(wc -l <"$CSV") - 1)) rows in $CSV; $(wc -l <"$FAILED") runs failed once and ran again (listed in $FAILED)"

(cd "$ROOT" && cargo run --release --quiet --example report_plots -- "$CSV" "$OUT/")
