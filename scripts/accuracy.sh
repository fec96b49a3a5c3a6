#!/usr/bin/env bash
# Measures ln, exp and sqrt of ballast-math against 256-bit reference values over 100k+ points
# each, prints the worst errors, and ends with one JSON line:
#   {"ln_max_abs_err":..., "exp_max_rel_err":..., "sqrt_max_rel_err":..., "samples":...}
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
out=$(cargo test -q -p ballast-math --release --test accuracy -- --nocapture 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^(ln|exp|sqrt):'
echo "$out" | grep -E '^\{"ln_max_abs_err"' | tail -n 1
