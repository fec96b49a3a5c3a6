#!/usr/bin/env bash
# Installs what a brand-new machine lacks for Ballast, and skips what is already there:
#   - the pinned Rust toolchain (rust-toolchain.toml) with its components and the Wasm target;
#   - cargo-contract 5.0.3 (about 17 minutes on 2 cores; skipped when that exact version is present).
# Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
CARGO_CONTRACT_VERSION=5.0.3

log() { printf '[setup] %s\n' "$*"; }

if ! command -v rustup >/dev/null 2>&1; then
    log "rustup is missing: install it first (https://rustup.rs); it fetches the pinned toolchain"
    exit 1
fi

if rustup toolchain list | grep -q "^${TOOLCHAIN}-"; then
    log "toolchain ${TOOLCHAIN}: present"
else
    log "toolchain ${TOOLCHAIN}: installing"
    rustup toolchain install "${TOOLCHAIN}" --profile minimal
fi
# Idempotent: rustup skips components and targets that are already installed.
rustup component add --toolchain "${TOOLCHAIN}" rust-src clippy rustfmt >/dev/null
rustup target add --toolchain "${TOOLCHAIN}" wasm32-unknown-unknown >/dev/null

installed=$(cargo contract --version 2>/dev/null || true)
if [[ "${installed}" == *"${CARGO_CONTRACT_VERSION}"* ]]; then
    log "cargo-contract ${CARGO_CONTRACT_VERSION}: present"
else
    log "cargo-contract ${CARGO_CONTRACT_VERSION}: installing (about 17 minutes on 2 cores)"
    # Built with the pinned toolchain; --locked keeps its dependency versions buildable by it.
    cargo "+${TOOLCHAIN}" install cargo-contract --version "${CARGO_CONTRACT_VERSION}" --locked
fi
log "done"
