#!/usr/bin/env bash
# Cascade simulator (crate `sim`, binary `ballast-sim`).
#
#   scripts/sim.sh crashes [--update-docs]
#       LUNA (2022-05) and FTX (2022-11) replays of the BTC file, 2,000 accounts, seeds 1..20,
#       every protocol, at constant depth and with the depth collapse; Markdown tables (the
#       metrics and the clearing-house yardstick with its comparators), plots in
#       target/sim/{luna,ftx}[-collapse]/ and one JSON line per run. --update-docs copies the
#       constant-depth plots to docs/sim/ (the README shows them).
#   scripts/sim.sh whole
#       The whole BTC file (trading after a 90-day warm-up), seeds 1..5, every protocol.
#   scripts/sim.sh scenarios
#       Synthetic wicks out of a 40% calm regime (11% within one hour, recovering by its close
#       or not), at constant depth and with the collapse, seeds 1..20; then the impulse test
#       (volatility 50% -> 150% for 30 days -> 50%).
#   scripts/sim.sh depth
#       The same two crashes at depth ratios 1.0, 0.2 and 0.05 (baseline, Ballast, and Ballast
#       without depth reports).
#   scripts/sim.sh thin
#       The two crashes in a thin market (depth ratio 0.05): baseline, Ballast (which reports
#       depth to the risk core) and Ballast without depth reports, seeds 1..5.
#   scripts/sim.sh options
#       The two crashes with 10% of the accounts writing delta-hedged straddles: Ballast and
#       Ballast without the options gamma and vega budgets, seeds 1..5.
#   scripts/sim.sh scale
#       10,000 and then 20,000 accounts over the whole BTC file (baseline and Ballast, one
#       thread), printing the run time of each.
#   scripts/sim.sh cross [--update-docs]
#       Cross-margin contagion: BTC and ETH in one ledger (ETH=FILE.csv overrides the second
#       file), LUNA and FTX months at seeds 1..5 and the whole file at seed 1: cross margin
#       liquidated worst market first and most liquid first, isolated, and each market's
#       feedback off; tables, contagion.svg per run and one JSON line each. --update-docs copies
#       the crash months' plots to docs/sim/. About 7 minutes on 2 cores.
#   scripts/sim.sh replay ARGS...
#       Passes ARGS to `ballast-sim replay` (see `ballast-sim replay --help`).
#
# DATA=FILE.csv overrides the candle file (default ../shared/data/btcusdt-1h-2022-2025.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data/btcusdt-1h-2022-2025.csv}
if [[ ! -f "$data" ]]; then
    echo "candle file $data not found (set DATA=FILE.csv)" >&2
    exit 1
fi
cargo build -q --release -p ballast-sim
sim="${CARGO_TARGET_DIR:-target}/release/ballast-sim"
mode=${1:-crashes}
shift || true

crash() { # name from to [args...]; seeds 1..5 unless SEEDS says otherwise
    local name=$1 from=$2 to=$3
    shift 3
    "$sim" replay --data "$data" --from "$from" --to "$to" --out "target/sim/$name" \
        --seeds "${SEEDS:-5}" "$@"
}

case "$mode" in
crashes)
    export SEEDS=20
    crash luna 2022-05-01 2022-06-01
    crash ftx 2022-11-01 2022-12-01
    crash luna-collapse 2022-05-01 2022-06-01 --depth-collapse on
    crash ftx-collapse 2022-11-01 2022-12-01 --depth-collapse on
    if [[ "${1:-}" == "--update-docs" ]]; then
        mkdir -p docs/sim
        for name in luna ftx; do
            for plot in price leverage liquidations margin; do
                cp "target/sim/$name/$plot.svg" "docs/sim/$name-$plot.svg"
            done
        done
        echo "plots copied to docs/sim/"
    fi
    ;;
whole)
    "$sim" replay --data "$data" --seeds 5 --out target/sim/whole
    if [[ "${1:-}" == "--update-docs" ]]; then
        cp target/sim/whole/margin.svg docs/sim/whole-margin.svg
    fi
    ;;
scenarios)
    for recovery in close none; do
        for collapse in off on; do
            "$sim" scenario --recovery "$recovery" --depth-collapse "$collapse" --seeds 20 \
                --no-plots --out "target/sim/wick-$recovery-$collapse"
        done
    done
    "$sim" impulse --seeds 5 --protocols baseline,ballast --out target/sim/impulse
    if [[ "${1:-}" == "--update-docs" ]]; then
        cp target/sim/impulse/margin.svg docs/sim/impulse-margin.svg
    fi
    ;;
depth)
    for depth in 1.0 0.2 0.05; do
        crash "luna-depth-$depth" 2022-05-01 2022-06-01 --depth-ratio "$depth" \
            --protocols baseline,ballast,ballast_no_depth --no-plots
        crash "ftx-depth-$depth" 2022-11-01 2022-12-01 --depth-ratio "$depth" \
            --protocols baseline,ballast,ballast_no_depth --no-plots
    done
    ;;
thin)
    crash luna-thin 2022-05-01 2022-06-01 --depth-ratio 0.05 \
        --protocols baseline,ballast,ballast_no_depth --no-plots
    crash ftx-thin 2022-11-01 2022-12-01 --depth-ratio 0.05 \
        --protocols baseline,ballast,ballast_no_depth --no-plots
    ;;
options)
    crash luna-options 2022-05-01 2022-06-01 --option-writers 0.1 \
        --protocols ballast,ballast_no_budgets --no-plots
    crash ftx-options 2022-11-01 2022-12-01 --option-writers 0.1 \
        --protocols ballast,ballast_no_budgets --no-plots
    ;;
scale)
    for accounts in 10000 20000; do
        start=$(date +%s)
        "$sim" replay --data "$data" --accounts "$accounts" --protocols baseline,ballast \
            --threads 1 --no-plots --out "target/sim/scale-$accounts"
        echo "scale: $accounts accounts, whole file, 2 protocols on one thread: $(( $(date +%s) - start )) s"
    done
    ;;
cross)
    eth=${ETH:-../shared/data/ethusdt-1h-2022-2025.csv}
    pair() { # name [args...]
        local name=$1
        shift
        "$sim" replay --data "$data" --data "$eth" --out "target/sim/cross-$name" "$@"
    }
    pair luna --from 2022-05-01 --to 2022-06-01 --seeds 5
    pair ftx --from 2022-11-01 --to 2022-12-01 --seeds 5
    pair whole
    if [[ "${1:-}" == "--update-docs" ]]; then
        mkdir -p docs/sim
        # (The whole file's plot is about 1 MB of SVG: it stays in target/sim/cross-whole/.)
        for name in luna ftx; do
            cp "target/sim/cross-$name/contagion.svg" "docs/sim/cross-$name-contagion.svg"
        done
    fi
    ;;
replay)
    "$sim" replay "$@"
    ;;
*)
    echo "usage: scripts/sim.sh crashes [--update-docs] | whole [--update-docs] | scenarios [--update-docs] | depth | thin | options | scale | cross [--update-docs] | replay ARGS..." >&2
    exit 2
    ;;
esac
