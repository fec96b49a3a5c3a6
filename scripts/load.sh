#!/usr/bin/env bash
# Load run in the drink sandbox (tests/src/bin/load.rs): 1,000 accounts (or ACCOUNTS) across
# BTC and ETH through the FTX crash from ../shared/data, liquidations (the default listing, no
# throttle) over many blocks, exact reconciliation, weight per message and the largest single call against
# the block limits; one JSON line at the end. Needs ../shared/data.
# Usage: scripts/load.sh [ACCOUNTS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/build-contracts.sh >&2
cd tests
cargo run --quiet --release --bin load -- "${1:-1000}"
