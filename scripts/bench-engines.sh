#!/usr/bin/env bash
# The engine benchmark (core/benches/bulk.rs) with all four engines in one
# process: mcsctp, sctp-proto, dcsctp as published, and dcsctp with its
# per-packet log formatting gated off ("dcsctp-nolog").
#
#   scripts/bench-engines.sh                       # everything, ~15 min
#   scripts/bench-engines.sh 'bulk/1G/1200B'       # criterion filter
#   scripts/bench-engines.sh --measurement-time 1  # any criterion flags
#   BULK_CLOCK=wall scripts/bench-engines.sh       # wall time, not CPU time
#
# The bench measures the CPU time of its thread by default (see
# core/benches/bulk.rs, ThreadCpu): on a shared machine that keeps the
# engines, timed at different moments, comparable.
#
# dcsctp 0.1.16 formats every packet it sends or receives as a hex string
# for its log (`dcsctp::logging::log_packet`, called from
# `socket/mod.rs`), whether or not a logger is installed. To measure it
# without that cost, this script:
#
# 1. fetches the dependencies (`cargo fetch`) and copies dcsctp's source
#    from the registry into target/dcsctp-nolog/crate (gitignored; nothing
#    of dcsctp is committed);
# 2. renames the copy's package to `dcsctp-nolog` (library `dcsctp_nolog`)
#    and gates the body of `log_packet` on `log::log_enabled!(Info)` (no
#    logger, or one that does not want the record: no formatting); checks
#    that the copy differs from the registry's source in exactly those
#    lines and prints the diff;
# 3. writes target/dcsctp-nolog/bench, a package that compiles the same
#    core/benches/bulk.rs with the workspace's dependencies plus
#    `dcsctp-nolog`, and sets `--cfg dcsctp_nolog` (build.rs) so that the
#    bench adds the dcsctp-nolog rows, same process, same run;
# 4. runs it (`cargo bench`, the workspace's target dir and profiles), with
#    the bench's metrics lines going to $OUT/metrics.csv;
# 5. writes $OUT/results.md: the throughput table (criterion's medians),
#    mcsctp against the best other engine per row, and the metrics table;
#    with the date, commit, load average and versions.
#
# A plain `cargo bench -p mcsctp-core --bench bulk` (and CI's
# `cargo build --benches`) needs none of this and runs three engines.
#
# Needs: cargo, python3 (>= 3.11, tomllib).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GEN=$CARGO_TARGET_DIR/dcsctp-nolog
OUT=${OUT:-$CARGO_TARGET_DIR/bench-engines}
PY=$ROOT/scripts/bench/engines.py

log() { printf '[bench-engines] %s\n' "$*" >&2; }

mkdir -p "$OUT" "$GEN"

log "cargo fetch"
cargo fetch --manifest-path "$ROOT/Cargo.toml" --quiet

meta=$(cargo metadata --format-version 1 --manifest-path "$ROOT/Cargo.toml")
pkg() { # name -> "version manifest_path"
	python3 -c 'import json,sys
m=json.loads(sys.stdin.read())
p=[p for p in m["packages"] if p["name"]==sys.argv[1]]
print(p[0]["version"], p[0]["manifest_path"])' "$1" <<<"$meta"
}
read -r DC_VERSION DC_MANIFEST < <(pkg dcsctp)
read -r PROTO_VERSION _ < <(pkg sctp-proto)
DC_SRC=$(dirname "$DC_MANIFEST")
[[ $DC_VERSION == 0.1.16 ]] || log "warning: dcsctp $DC_VERSION; the patch was written for 0.1.16"

log "patched copy of $DC_SRC -> $GEN/crate"
python3 "$PY" patch "$DC_SRC" "$GEN/crate"
# The same check diff(1) shows; diff exits 1 when files differ.
diff -ru "$DC_SRC" "$GEN/crate" | tee "$GEN/patch.diff" || true

python3 "$PY" manifest "$ROOT" "$GEN"

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . || echo ' (+ uncommitted changes)')"
	echo "command: ${BULK_CLOCK:+BULK_CLOCK=$BULK_CLOCK }scripts/bench-engines.sh $*"
	echo "clock: $([[ ${BULK_CLOCK:-} == wall ]] && echo 'wall time' || echo 'CPU time of the benchmark thread')"
	echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
	echo "rustc: $(rustc --version)"
	echo "engines: mcsctp $(git -C "$ROOT" rev-parse --short HEAD), sctp-proto $PROTO_VERSION, dcsctp $DC_VERSION (as published and dcsctp-nolog)"
} >"$OUT/run.txt"

log "building"
cargo bench --manifest-path "$GEN/bench/Cargo.toml" --bench bulk --no-run --quiet

# Load average, every 10 s while the benchmark runs.
loadlog=$OUT/loadavg.txt
: >"$loadlog"
(while :; do
	cut -d' ' -f1 /proc/loadavg >>"$loadlog"
	sleep 10
done) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

rm -f "$OUT/metrics.csv"
start=$(date +%s)
log "running (load average $(cut -d' ' -f1-3 /proc/loadavg))"
BENCH_ENGINES_OUT=$OUT cargo bench --manifest-path "$GEN/bench/Cargo.toml" --bench bulk -- "$@" 2>&1 \
	| tee "$OUT/bench.log"
end=$(date +%s)
kill "$sampler" 2>/dev/null || true

{
	echo "duration: $(((end - start) / 60)) min $(((end - start) % 60)) s"
	echo "load average (1 min, every 10 s): $(sort -n "$loadlog" | head -1)–$(sort -n "$loadlog" | tail -1), median $(sort -n "$loadlog" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
} >>"$OUT/run.txt"

{
	cat "$OUT/run.txt"
	echo
	python3 "$PY" report "$CARGO_TARGET_DIR/criterion" "$start" "$OUT/metrics.csv" "$OUT/tables.md" >/dev/null
	cat "$OUT/tables.md"
} >"$OUT/results.md"
cat "$OUT/results.md"
log "written: $OUT/results.md (metrics: $OUT/metrics.csv, log: $OUT/bench.log)"
