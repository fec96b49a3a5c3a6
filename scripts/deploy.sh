#!/usr/bin/env bash
# Deploys Ballast to a running contracts node (scripts/node.sh start) and prints the addresses as
# one JSON object on stdout (everything else goes to stderr):
#   - token, engine and venue uploaded and instantiated with the cargo-contract CLI (dev
#     accounts: //Alice deploys and owns everything); the engine's six facet codes are uploaded
#     first (no instance) and the router is instantiated with their hashes;
#   - market 1 listed with the default large-cap configuration, through `ballast-keeper admin`
#     (the configuration has some sixty fields: it is SCALE-encoded from the same Rust types the
#     engine decodes, rather than typed as a CLI literal);
#   - //Bob, //Charlie, //Dave and //Ferdie authorized as the market's feeders (slots 0 to 3:
#     one more than the three reports a price needs), the venue authorized in market 1 (at once:
#     nothing is open yet), //Ferdie also the venue's fee treasury.
#
# Environment: BALLAST_NODE_URL (default ws://127.0.0.1:9944); TIME_SCALE (default 1): the
# market's clock compression for replays (1800: an hour of candles in 2 seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${BALLAST_NODE_URL:-ws://127.0.0.1:9944}
SCALE=${TIME_SCALE:-1}
MARKET=1
target="${CARGO_TARGET_DIR:-$(pwd)/target}"
keeper="$target/release/ballast-keeper"
bundles=target/contracts

log() { printf '[deploy] %s\n' "$*" >&2; }

FACETS=(trading liquidation feeds admin collateral views)
for b in ballast_token ballast_engine ballast_venue "${FACETS[@]/#/ballast_engine_}"; do
    [[ -f "$bundles/$b.contract" ]] || { log "missing $bundles/$b.contract: run scripts/build-contracts.sh"; exit 1; }
done
[[ -x "$keeper" ]] || { log "missing $keeper: cargo build --release -p ballast-keeper --features chain"; exit 1; }

addr() { "$keeper" address --suri "$1"; }
ALICE=$(addr //Alice)
FERDIE=$(addr //Ferdie)
# Four feeders for a market that needs three reports: one outage does not freeze the price.
FEEDERS=(//Bob //Charlie //Dave //Ferdie)

# cargo contract instantiate ... --output-json prints {"contract": "<SS58>", ...}.
instantiate() { # bundle args...
    local bundle=$1
    shift
    cargo contract instantiate "$bundles/$bundle.contract" --constructor new --args "$@" \
        --suri //Alice --url "$URL" --execute --skip-confirm --output-json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["contract"])'
}

# A facet's code hash is the bundle's own (blake2 of its Wasm). Uploading code that is already
# on chain changes nothing, so an upload that fails is only logged: the router's constructor
# locks every facet code and refuses to deploy over one that is missing.
upload() { # bundle
    cargo contract upload "$bundles/$1.contract" --suri //Alice --url "$URL" --execute \
        --output-json >/dev/null 2>&1 || log "upload of $1 refused (already on chain?)"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"]["hash"])' \
        "$bundles/$1.contract"
}

log "token"
TOKEN=$(instantiate ballast_token 1000000000000000000 'Some("Ballast USD")' 'Some("bUSD")' 6)
log "token at $TOKEN; engine"
codes=""
for f in "${FACETS[@]}"; do
    log "facet $f"
    codes+="${codes:+, }$f: $(upload "ballast_engine_$f")"
done
ENGINE=$(instantiate ballast_engine "$TOKEN" "FacetCodes { $codes }")
log "engine at $ENGINE; venue"
# 5 bp half-spread, 5 bp fee, 0.1% funding per hour at a skew of 10 BTC (Fixed: value x 2^48).
VENUE=$(instantiate ballast_venue "$ENGINE" "$TOKEN" "$MARKET" 'Fixed(140737488355)' \
    'Fixed(140737488355)' "$FERDIE" 'Fixed(281474976710)' 1000000000)
log "venue at $VENUE"

admin() { "$keeper" admin --url "$URL" --engine "$ENGINE" \
    --engine-metadata "$bundles/ballast_engine.contract" --suri //Alice "$@" >&2; }
log "listing market $MARKET (time scale $SCALE)"
admin list-market --market "$MARKET" --time-scale "$SCALE"
feeders_json=""
for slot in 0 1 2 3; do
    feeder=$(addr "${FEEDERS[$slot]}")
    admin set-feeder --market "$MARKET" --feeder "$feeder" --slot "$slot"
    feeders_json+="${feeders_json:+,}\"$feeder\""
done
admin set-venue --market "$MARKET" --venue "$VENUE"
log "done"
printf '{"url":"%s","owner":"%s","token":"%s","engine":"%s","venue":"%s","market":%s,"feeders":[%s],"treasury":"%s","time_scale":%s}\n' \
    "$URL" "$ALICE" "$TOKEN" "$ENGINE" "$VENUE" "$MARKET" "$feeders_json" "$FERDIE" "$SCALE"
