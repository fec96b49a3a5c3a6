#!/usr/bin/env bash
# Benchmarks in one drink session: weight (ref_time, proof_size) of every engine message, a PSP22
# transfer of the collateral token as the unit of comparison, fill and liquidation weight as an
# account's positions grow from 1 to 16, and the optimized Wasm sizes. Prints a Markdown table,
# writes target/bench/report.json and ends with one JSON line. It reports; it never fails on a
# figure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/build-contracts.sh >&2
cd tests
cargo run --quiet --release --bin bench
