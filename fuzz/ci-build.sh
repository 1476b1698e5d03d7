#!/usr/bin/env bash
# Builds every fuzz target, for CI: proves they compile and link against
# the current mcsctp-core and mcsctp-mcast without running them. The
# targets are the [[bin]]s of fuzz/Cargo.toml: parse_packet, roundtrip,
# endpoint, mcast_parse and mcast_endpoint; `cargo fuzz build` builds them
# all, and the check below fails if one is missing.
#
#   fuzz/ci-build.sh            # cargo fuzz build -O
#   fuzz/ci-build.sh -a         # extra cargo-fuzz flags are passed through
#
# cargo-fuzz instruments with `-Zsanitizer=address` and other unstable
# rustc flags, so it needs a nightly compiler. Prefer a real nightly
# toolchain; without one, let the stable compiler accept the unstable flags
# with RUSTC_BOOTSTRAP=1 (tested with stable 1.95: builds and runs, ASan
# included). Set FUZZ_TOOLCHAIN=stable to force the second path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(-O)

if [ "${FUZZ_TOOLCHAIN:-}" != stable ] && cargo +nightly --version >/dev/null 2>&1; then
    echo "ci-build: nightly ($(cargo +nightly --version))"
    cargo +nightly fuzz build --fuzz-dir "$here" "${flags[@]}"
    listed="$(cargo +nightly fuzz list --fuzz-dir "$here")"
else
    echo "ci-build: stable with RUSTC_BOOTSTRAP=1 ($(cargo --version))"
    RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir "$here" "${flags[@]}"
    listed="$(RUSTC_BOOTSTRAP=1 cargo fuzz list --fuzz-dir "$here")"
fi
for target in parse_packet roundtrip endpoint mcast_parse mcast_endpoint; do
    if ! grep -qx "$target" <<< "$listed"; then
        echo "ci-build: fuzz target $target is missing from fuzz/Cargo.toml" >&2
        exit 1
    fi
done
