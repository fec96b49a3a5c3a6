#!/usr/bin/env bash
# Deploys Ballast to a running contracts node and prints one JSON object on stdout (everything
# else goes to stderr): the addresses, the code hashes, and the weight the chain charged for
# every step.
#   - the collateral token (unless BALLAST_TOKEN names one), the engine's six facet codes
#     (uploaded, no instance), the engine router instantiated over their hashes, the venue;
#   - market 1 listed from a listing file (BALLAST_LISTING) or with the default large-cap
#     configuration, through `ballast-keeper admin` (the configuration has some sixty fields:
#     it is SCALE-encoded from the same Rust types the engine decodes). The listing is checked
#     with the engine's own validation before anything is sent, and so is the feeder count;
#   - the feeders authorized in slot order, the venue authorized in market 1 (at once: nothing
#     is open yet), the treasury as the venue's fee recipient.
#
#   scripts/deploy.sh              deploy to BALLAST_NODE_URL
#   scripts/deploy.sh --rehearse   the dry run: the same deploy with development keys on a
#                                  throwaway local chain (a second node on port 9955 with its own
#                                  database, stopped afterwards), printing every step's weight;
#                                  nothing is sent to BALLAST_NODE_URL
#
# Environment (defaults are the development chain's well-known accounts):
#   BALLAST_NODE_URL            node RPC endpoint (default ws://127.0.0.1:9944)
#   BALLAST_DEPLOYER_SURI       the deployer's secret URI; it owns the engine and the venue
#   BALLAST_DEPLOYER_SURI_FILE  or a file holding it (first line); default //Alice
#   BALLAST_FEEDERS             feeder addresses (SS58, comma-separated, slot 0 first);
#                               default //Bob, //Charlie, //Dave, //Ferdie
#   BALLAST_TREASURY            the venue's fee treasury (SS58); default //Ferdie
#   BALLAST_LISTING             listing file for market 1 (`ballast-keeper listing default`
#                               prints one to edit); default: the large-cap default
#   BALLAST_TOKEN               an existing PSP22 collateral token (SS58): no test token deployed
#   TIME_SCALE                  without a listing file, the market's clock compression for
#                               replays (1800: an hour of candles in 2 seconds); default 1
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[deploy] %s\n' "$*" >&2; }

case "${1:-}" in
    "" | --rehearse) ;;
    *) log "unknown argument '$1' (usage: scripts/deploy.sh [--rehearse]): nothing sent"; exit 2 ;;
esac
if [[ "${1:-}" == "--rehearse" ]]; then
    export BALLAST_NODE_PORT=9955 BALLAST_NODE_DIR
    BALLAST_NODE_DIR=$(mktemp -d)
    trap 'bash scripts/node.sh stop >&2 || true; rm -rf "$BALLAST_NODE_DIR"' EXIT
    bash scripts/node.sh start
    log "rehearsal on a throwaway chain at ws://127.0.0.1:9955 with development keys"
    BALLAST_NODE_URL=ws://127.0.0.1:9955 BALLAST_DEPLOYER_SURI= BALLAST_DEPLOYER_SURI_FILE= \
        BALLAST_FEEDERS= BALLAST_TREASURY= BALLAST_TOKEN= bash scripts/deploy.sh >"$BALLAST_NODE_DIR/out.json"
    python3 - "$BALLAST_NODE_DIR/out.json" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
print("| step | ref_time | proof_size |", file=sys.stderr)
print("| --- | ---: | ---: |", file=sys.stderr)
for s in out["steps"]:
    print(f"| {s['step']} | {s['ref_time']:,} | {s['proof_size']:,} |", file=sys.stderr)
print(json.dumps({"rehearsal": True, "steps": out["steps"], "code_hashes": out["code_hashes"]}))
EOF
    exit 0
fi

URL=${BALLAST_NODE_URL:-ws://127.0.0.1:9944}
SCALE=${TIME_SCALE:-1}
MARKET=1
target="${CARGO_TARGET_DIR:-$(pwd)/target}"
keeper="$target/release/ballast-keeper"
bundles=target/contracts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

FACETS=(trading liquidation feeds admin collateral views)
for b in ballast_token ballast_engine ballast_venue "${FACETS[@]/#/ballast_engine_}"; do
    [[ -f "$bundles/$b.contract" ]] || { log "missing $bundles/$b.contract: run scripts/build-contracts.sh"; exit 1; }
done
[[ -x "$keeper" ]] || { log "missing $keeper: cargo build --release -p ballast-keeper --features chain"; exit 1; }
addr() { "$keeper" address --suri "$1"; }

# Keys and accounts. The secret URI goes to cargo-contract and the keeper on their command
# lines: deploy from a machine nobody else logs into.
if [[ -n "${BALLAST_DEPLOYER_SURI:-}" ]]; then
    SURI=$BALLAST_DEPLOYER_SURI
elif [[ -n "${BALLAST_DEPLOYER_SURI_FILE:-}" ]]; then
    [[ -r "$BALLAST_DEPLOYER_SURI_FILE" ]] || { log "cannot read $BALLAST_DEPLOYER_SURI_FILE"; exit 1; }
    SURI=$(head -n 1 "$BALLAST_DEPLOYER_SURI_FILE")
else
    SURI=//Alice
    log "no BALLAST_DEPLOYER_SURI(_FILE): deploying with the development key //Alice"
fi
OWNER=$(addr "$SURI")
if [[ -n "${BALLAST_FEEDERS:-}" ]]; then
    IFS=, read -r -a FEEDERS <<<"$BALLAST_FEEDERS"
else
    # Four feeders for a market that needs three reports: one outage does not freeze the price.
    FEEDERS=()
    for s in //Bob //Charlie //Dave //Ferdie; do FEEDERS+=("$(addr "$s")"); done
fi
TREASURY=${BALLAST_TREASURY:-$(addr //Ferdie)}

# Everything that can be checked is checked before the first transaction.
if [[ -n "${BALLAST_LISTING:-}" ]]; then
    "$keeper" listing check --file "$BALLAST_LISTING" >"$work/listing.json" \
        || { log "the listing $BALLAST_LISTING would be refused: nothing sent"; exit 1; }
else
    "$keeper" listing default --time-scale "$SCALE" >"$work/listing.json"
fi
min_reports=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["oracle"]["min_reports"])' "$work/listing.json")
if ((${#FEEDERS[@]} < min_reports)); then
    log "${#FEEDERS[@]} feeders for a market that needs $min_reports reports: it could never price. Nothing sent."
    exit 1
fi
# The engine has 8 feeder slots per market, and a feeder listed twice is one operator counted
# as two reports' worth of independence.
if ((${#FEEDERS[@]} > 8)); then
    log "${#FEEDERS[@]} feeders: a market has 8 feeder slots. Nothing sent."
    exit 1
fi
duplicate=$(printf '%s\n' "${FEEDERS[@]}" | sort | uniq -d | head -n 1)
if [[ -n "$duplicate" ]]; then
    log "feeder $duplicate is listed twice: one operator would fill two slots. Nothing sent."
    exit 1
fi
if ((${#FEEDERS[@]} == min_reports)); then
    log "warning: exactly $min_reports feeders for $min_reports reports: one outage freezes the price"
fi
for f in "${FEEDERS[@]}" "$TREASURY"; do
    "$keeper" address --check "$f" >/dev/null || { log "not an SS58 address: $f"; exit 1; }
done

STEPS="$work/steps"
: >"$STEPS"
# Records a step's weight from an --output-json file of cargo-contract.
step() { # label json-file
    local w
    w=$(python3 scripts/lib/extrinsic_weight.py "$2" 2>"$work/weight.err") \
        || { log "no weight found for '$1': $(cat "$work/weight.err")"; w="0 0"; }
    echo "$1 $w" >>"$STEPS"
}

# cargo contract instantiate ... --output-json prints {"contract": "<SS58>", "events": ...}.
instantiate() { # label bundle args...
    local label=$1 bundle=$2
    shift 2
    cargo contract instantiate "$bundles/$bundle.contract" --constructor new --args "$@" \
        --suri "$SURI" --url "$URL" --execute --skip-confirm --output-json >"$work/out.json"
    step "$label" "$work/out.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["contract"])' "$work/out.json"
}

code_hash() { # bundle: blake2 of its Wasm, as the bundle records it
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"]["hash"])' "$bundles/$1.contract"
}

# Uploading code that is already on chain changes nothing, so a refused upload is only
# logged: the router's constructor locks every facet code and refuses to deploy over one that
# is missing.
upload() { # bundle
    if cargo contract upload "$bundles/$1.contract" --suri "$SURI" --url "$URL" --execute \
        --output-json >"$work/up.json" 2>"$work/up.err"; then
        step "upload $1" "$work/up.json"
    else
        log "upload of $1 refused (already on chain?): $(tail -1 "$work/up.err")"
    fi
}

if [[ -n "${BALLAST_TOKEN:-}" ]]; then
    TOKEN=$BALLAST_TOKEN
    log "collateral token $TOKEN (given)"
else
    log "token"
    TOKEN=$(instantiate "instantiate token" ballast_token 1000000000000000000 'Some("Ballast USD")' 'Some("bUSD")' 6)
    log "token at $TOKEN"
fi
codes=""
for f in "${FACETS[@]}"; do
    log "facet $f"
    upload "ballast_engine_$f"
    codes+="${codes:+, }$f: $(code_hash "ballast_engine_$f")"
done
log "engine"
ENGINE=$(instantiate "instantiate engine router" ballast_engine "$TOKEN" "FacetCodes { $codes }")
log "engine at $ENGINE; venue"
# 5 bp half-spread, 5 bp fee, 0.1% funding per hour at a skew of 10 BTC (Fixed: value x 2^48).
VENUE=$(instantiate "instantiate venue" ballast_venue "$ENGINE" "$TOKEN" "$MARKET" 'Fixed(140737488355)' \
    'Fixed(140737488355)' "$TREASURY" 'Fixed(281474976710)' 1000000000)
log "venue at $VENUE"

admin() { # label args...
    local label=$1
    shift
    "$keeper" admin --url "$URL" --engine "$ENGINE" \
        --engine-metadata "$bundles/ballast_engine.contract" --suri "$SURI" "$@" >"$work/admin.json"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(sys.argv[1], d["ref_time"], d["proof_size"])' \
        "$label" "$work/admin.json" >>"$STEPS"
}
log "listing market $MARKET"
admin "list_market" list-market --market "$MARKET" --config "$work/listing.json"
for slot in "${!FEEDERS[@]}"; do
    admin "set_feeder slot $slot" set-feeder --market "$MARKET" --feeder "${FEEDERS[$slot]}" --slot "$slot"
done
admin "authorize_venue" set-venue --market "$MARKET" --venue "$VENUE"
log "done"

python3 - "$STEPS" <<EOF
import json, sys
steps = []
for line in open(sys.argv[1]):
    *label, ref_time, proof_size = line.split()
    steps.append({"step": " ".join(label), "ref_time": int(ref_time), "proof_size": int(proof_size)})
hashes = {"token": "$(code_hash ballast_token)", "engine_router": "$(code_hash ballast_engine)",
          "venue": "$(code_hash ballast_venue)"}
for f in "${FACETS[*]}".split():
    hashes["facet_" + f] = {$(for f in "${FACETS[@]}"; do printf '"%s": "%s", ' "$f" "$(code_hash "ballast_engine_$f")"; done)}[f]
print(json.dumps({"url": "$URL", "owner": "$OWNER", "token": "$TOKEN", "engine": "$ENGINE",
                  "venue": "$VENUE", "market": $MARKET,
                  "feeders": "${FEEDERS[*]}".split(), "treasury": "$TREASURY", "time_scale": $SCALE,
                  "code_hashes": hashes, "steps": steps}))
EOF
