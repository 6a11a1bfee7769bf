#!/usr/bin/env bash
# Fuzz lamina's file readers (STL, OBJ, 3MF, G-code) and mesh repair for a fixed time.
#
#   benches/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# With a nightly toolchain, cargo-fuzz (libFuzzer) runs each target of fuzz/ for the
# budget, starting from fuzz/seeds/<target>/ and a corpus kept in target/fuzz-corpus/.
# A crash is left in fuzz/artifacts/<target>/: copy it into
# tests/fuzz_regressions/<target>/ so that `cargo test --test fuzz` keeps it fixed.
# Without nightly, the proptest stand-ins of tests/fuzz.rs run with as many cases as fit
# in the budget instead.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(stl obj threemf gcode repair)
fi

if cargo +nightly --version >/dev/null 2>&1; then
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
    status=0
    for t in "${targets[@]}"; do
        corpus="target/fuzz-corpus/$t"
        mkdir -p "$corpus"
        echo "== $t: ${budget} s"
        if ! (cd fuzz && cargo +nightly fuzz run -O "$t" \
            "../$corpus" "seeds/$t" -- \
            -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|.*panicked at|Test unit written|artifact_prefix)" ); then
            :
        fi
        if ls "fuzz/artifacts/$t"/* >/dev/null 2>&1; then
            echo "$t: failing inputs in fuzz/artifacts/$t/"
            status=1
        fi
    done
    exit $status
else
    echo "no nightly toolchain: running the proptest stand-ins of tests/fuzz.rs instead"
    # Roughly 2,000 cases a second per target on a 2-core machine.
    PROPTEST_CASES=$((budget * 2000)) cargo test --release --test fuzz
fi
