#!/usr/bin/env bash
# Fuzzing smoke run: every target for FUZZ_SECONDS (default 20) seconds,
# starting from the committed seeds. Exits non-zero if any target finds a
# crash, a timeout or an out-of-memory input; exits 0 with a reason when the
# tools are missing (on CI, a missing cargo-fuzz is installed instead).
set -uo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: skipped: no nightly toolchain ('cargo +nightly' failed); fuzzing needs nightly"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "fuzz/ci.sh: cargo-fuzz missing on CI: installing it"
        cargo install cargo-fuzz --locked || { echo "fuzz/ci.sh: cargo-fuzz install failed"; exit 1; }
        cargo +nightly fuzz --version >/dev/null 2>&1 ||
            { echo "fuzz/ci.sh: cargo-fuzz installed but 'cargo +nightly fuzz' still fails"; exit 1; }
    else
        echo "fuzz/ci.sh: skipped: cargo-fuzz missing (install: cargo install cargo-fuzz --locked)"
        exit 0
    fi
fi

cargo +nightly fuzz build || { echo "fuzz/ci.sh: build of the fuzz targets failed"; exit 1; }

failed=()
for target in $(cargo +nightly fuzz list); do
    echo "fuzz/ci.sh: ${target} for ${seconds} s"
    mkdir -p "corpus/${target}"
    # One process, one input at a time (libFuzzer's default); the working
    # corpus is git-ignored, the seeds are read only.
    if ! cargo +nightly fuzz run "${target}" "corpus/${target}" "seeds/${target}" -- \
        -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
        failed+=("${target}")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz/ci.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; see fuzz/README.md)"
    exit 1
fi
echo "fuzz/ci.sh: every target ran ${seconds} s without a finding"

# Second-round targets, picked up from `cargo fuzz list` like the others:
#   ratchet_decrypt  forged/replayed/tampered ratchet messages on an established session
#   x3dh_initial     x3dh::respond on mutated initial messages; prekeys kept on failure
#   prekey_bundle    verify_bundle / verify_published on wire and mutated bundles
#   dht_core         the Kademlia core under arbitrary requests, answers and time
#   config           Config::parse on arbitrary TOML text
#   control_request  the control socket's JSON request parser and line reader
