#!/usr/bin/env bash
# Builds the contracts with `cargo contract build --release` and gathers the .contract bundles in
# target/contracts/ (what the drink tests, the demo and the benchmark load). The engine is a
# router and six facets (docs/architecture.md); `ballast-engine-bundle` joins their bundles
# into the one ballast_engine.contract venues load. cargo's own incremental build makes a
# repeat run take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
out="$root/target/contracts"
mkdir -p "$out"
# hostile-token is test-only: a PSP22 token that tries to re-enter the engine.
for contract in token engine/router engine/trading engine/liquidation engine/feeds engine/admin \
    engine/collateral engine/views venue hostile-token; do
    name="ballast_${contract//[-\/]/_}"
    echo "[contracts] building ${name}"
    cargo contract build --release --quiet --manifest-path "contracts/${contract}/Cargo.toml" >/dev/null
    cp "${target}/ink/${name}/${name}.contract" "$out/"
    printf '[contracts] %s: %s bytes of optimized Wasm\n' "$name" "$(stat -c %s "${target}/ink/${name}/${name}.wasm")"
done
cargo run --release --quiet -p ballast-engine-bundle -- "$out"
