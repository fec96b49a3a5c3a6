#!/usr/bin/env bash
# Replays hourly candles through the oracle adapter and the risk core (default market config),
# printing per day forecast vol, applied max leverage (initial, maintenance, new positions) and
# the breaker state, ending with one JSON line:
#   {"calm_max_leverage":..., "crash_min_max_leverage":..., "breaker_trips":..., "days":...}
# Usage: scripts/risk-replay.sh [FILE.csv]   (default: the BTC file in ../shared/data, else the
# in-repo excerpt data/btcusdt-1h-2022-10-01_2022-11-30.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
file=${1:-}
if [[ -z "$file" ]]; then
    if [[ -f ../shared/data/btcusdt-1h-2022-2025.csv ]]; then
        file=../shared/data/btcusdt-1h-2022-2025.csv
    else
        file=data/btcusdt-1h-2022-10-01_2022-11-30.csv
    fi
fi
[[ "$file" = /* ]] || file="$root/$file"
scripts/setup.sh >/dev/null
cargo run -q --release -p ballast-risk --example risk_replay -- "$file"
