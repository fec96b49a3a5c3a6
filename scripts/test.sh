#!/usr/bin/env bash
# The one test command: set-up (skipped when done), formatting, lints, then every test.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "set-up"
scripts/setup.sh

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (clippy -D warnings; arithmetic_side_effects and cast lints are denied in Cargo.toml)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests (release build: the accuracy and property tests run 100k+ samples)"
cargo test --workspace --release

step "contracts (cargo contract build --release: cargo-contract's own clippy lints, Wasm size)"
scripts/build-contracts.sh

step "drink tests (the contracts in the real pallet-contracts runtime)"
(cd tests && cargo fmt -- --check && cargo test --release)

step "fuzzing (a short bounded pass of every target: scripts/fuzz.sh 20)"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
scripts/fuzz.sh 20

step "end to end on a local contracts node (runs only where scripts/node.sh install has put the node)"
scripts/e2e-node.sh

step "all checks passed"
