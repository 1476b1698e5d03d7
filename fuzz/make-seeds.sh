#!/usr/bin/env bash
# Regenerates the committed seed corpora fuzz/seeds/<target>/. For the
# codec targets (parse_packet, roundtrip): one valid
# packet per chunk kind (INIT, INIT ACK, COOKIE ECHO+DATA, SACK+DATA,
# HEARTBEAT(+ACK), ABORT, ERROR+SHUTDOWN*, SHUTDOWN COMPLETE, FORWARD-TSN+
# ECNE+CWR, I-FORWARD-TSN+I-DATA, unknown chunks), built with
# mcsctp_core::packet::build_packet by the ignored test `print_fuzz_seeds`
# in core/tests/proptest_codec.rs, which prints them as hex.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
out="$(cargo test -q -p mcsctp-core --test proptest_codec print_fuzz_seeds \
    -- --ignored --nocapture 2>/dev/null | grep '^SEED ')"
for target in parse_packet roundtrip; do
    dir="$here/seeds/$target"
    mkdir -p "$dir"
    rm -f "$dir"/*.bin
    while read -r _ name hex; do
        printf '%s' "$hex" | xxd -r -p > "$dir/$name.bin"
    done <<< "$out"
    echo "$dir: $(ls "$dir" | wc -l) seeds"
done

# The endpoint target reads scripts of operations (core/tests/support/
# mitm.rs); its seeds are scripts from the generator of
# core/tests/hostile_wire.rs.
out="$(cargo test -q -p mcsctp-core --test hostile_wire print_fuzz_seeds \
    -- --ignored --nocapture 2>/dev/null | grep '^SEED ')"
dir="$here/seeds/endpoint"
mkdir -p "$dir"
rm -f "$dir"/*.bin
while read -r _ name hex; do
    printf '%s' "$hex" | xxd -r -p > "$dir/$name.bin"
done <<< "$out"
echo "$dir: $(ls "$dir" | wc -l) seeds"

# The mcast_parse target starts from the example packets of the Internet-
# Draft (draft/draft-mcsctp-tsvwg-sctp-multicast.md, appendix "Example
# Packets"), printed by the ignored test `print_fuzz_seeds` in
# mcast/tests/draft_examples.rs.
out="$(cargo test -q -p mcsctp-mcast --test draft_examples print_fuzz_seeds \
    -- --ignored --nocapture 2>/dev/null | grep '^SEED ')"
dir="$here/seeds/mcast_parse"
mkdir -p "$dir"
rm -f "$dir"/*.bin
while read -r _ name hex; do
    printf '%s' "$hex" | xxd -r -p > "$dir/$name.bin"
done <<< "$out"
echo "$dir: $(ls "$dir" | wc -l) seeds"

# The mcast_endpoint target reads scripts of operations on a group server
# and its members (mcsctp_mcast::fuzzing::group_wire); its seeds are scripts
# from the generator of mcast/tests/hostile_wire.rs.
out="$(cargo test -q -p mcsctp-mcast --test hostile_wire print_fuzz_seeds \
    -- --ignored --nocapture 2>/dev/null | grep '^SEED ')"
dir="$here/seeds/mcast_endpoint"
mkdir -p "$dir"
rm -f "$dir"/*.bin
while read -r _ name hex; do
    printf '%s' "$hex" | xxd -r -p > "$dir/$name.bin"
done <<< "$out"
echo "$dir: $(ls "$dir" | wc -l) seeds"
