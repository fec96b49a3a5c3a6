#!/usr/bin/env bash
# The main job: builds the contracts if needed, deploys the collateral token and the margin
# engine in the embedded drink sandbox (the real pallet-contracts runtime), replays the FTX crash
# from real BTC candles (../shared/data, else the in-repo excerpt), and prints a report ending
# with one JSON line: {"liquidations":..., "bankruptcies":..., "breaker_trips":...,
# "reconciled":true|false, "insurance_fund":...}.
# Usage: scripts/demo.sh [FILE.csv] [FROM-DATE] [TO-DATE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/build-contracts.sh >&2
cd tests
cargo run --quiet --release --bin demo -- "$@"
