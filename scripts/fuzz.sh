#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on a nightly toolchain) for SECONDS each, starting
# from the seed corpus in fuzz/corpus/<target>, and prints per target the executions and the
# findings (crash, timeout, leak or out-of-memory inputs saved under fuzz/artifacts/<target>).
# Ends with one JSON line:
#   {"targets": {"math_ops": {"execs": N, "findings": N}, ...}}
# and exits non-zero if any target has a finding.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s, every target)
# Installs the pinned nightly toolchain (FUZZ_TOOLCHAIN overrides it) and cargo-fuzz 0.13.2
# when missing. The fuzz crate is its own
# workspace: it never enters the main build, the contract builds or the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
# A pinned nightly, so that a fuzz pass does not break when nightly does.
toolchain=${FUZZ_TOOLCHAIN:-nightly-2026-10-30}
seconds=${1:-60}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(math_ops oracle_reports risk_sequences)
fi
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    cargo "+$toolchain" install cargo-fuzz --version 0.13.2 --locked
fi
mkdir -p target/fuzz
json=""
failed=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="$(pwd)/target/fuzz/$target.log"
    before=$(find "fuzz/artifacts/$target" -type f | wc -l)
    touch "$log.start"
    echo "[fuzz] $target for ${seconds}s"
    status=0
    (cd fuzz && cargo "+$toolchain" fuzz run --release "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/") >"$log" 2>&1 || status=$?
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
    after=$(find "fuzz/artifacts/$target" -type f | wc -l)
    findings=$((after - before))
    if [[ $status -ne 0 && $findings -eq 0 ]]; then
        echo "[fuzz] $target failed without a finding (see $log):" >&2
        tail -20 "$log" >&2
        failed=1
    fi
    if [[ $findings -gt 0 ]]; then
        failed=1
        # What was found, readable from the CI log alone (the artifacts stay on the machine
        # that ran it): the panic or sanitizer report, and each new input in base64, which
        # `base64 -d > input && cargo fuzz run TARGET input` (in fuzz/) replays.
        echo "[fuzz] $target: finding (log $log):" >&2
        grep -E -A3 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY:" "$log" | head -40 >&2 || true
        find "fuzz/artifacts/$target" -type f -newer "$log.start" | while read -r input; do
            echo "[fuzz] $target input $(basename "$input") (base64):" >&2
            base64 -w0 "$input" >&2
            echo >&2
        done
    fi
    printf '[fuzz] %s: %s executions, %s findings\n' "$target" "${execs:-0}" "$findings"
    json+="${json:+,}\"$target\":{\"execs\":${execs:-0},\"findings\":$findings}"
done
echo "{\"targets\":{$json}}"
exit $failed
