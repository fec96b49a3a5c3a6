#!/usr/bin/env bash
# A local Substrate contracts chain for Ballast.
#
#   scripts/node.sh install   install substrate-contracts-node 0.42.0 once (about 75 minutes of
#                             2-core time; skipped when that version is already present)
#   scripts/node.sh prerequisites
#                             install protoc and libclang where missing (install runs it first)
#                             and fail at once when they are still not there
#   scripts/node.sh start     start it on 127.0.0.1 with a fresh temporary database, wait for RPC
#   scripts/node.sh restart   stop it and start it again on the same database (the chain goes on)
#   scripts/node.sh stop      stop the node this script started and delete its database
#   scripts/node.sh status    say whether it runs and where
#   scripts/node.sh present   exit 0 when the right version is installed (used by CI)
#
# Environment: BALLAST_NODE_PORT (RPC port, default 9944), BALLAST_NODE_DIR (pid file, logs and
# the temporary database; default $HOME/.cache/ballast/node).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=0.42.0
NODE_BIN=substrate-contracts-node
TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
PORT=${BALLAST_NODE_PORT:-9944}
DIR=${BALLAST_NODE_DIR:-$HOME/.cache/ballast/node}
PIDFILE="$DIR/node.pid"
LOG="$DIR/node.log"

log() { printf '[node] %s\n' "$*" >&2; }

node_path() { command -v "$NODE_BIN" 2>/dev/null || echo "$HOME/.cargo/bin/$NODE_BIN"; }

present() {
    local bin
    bin=$(node_path)
    [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$NODE_VERSION"
}

# Whether bindgen (clang-sys, for RocksDB) can load libclang: it looks for `libclang.so`,
# `libclang-N.so` or `libclang.so.N` in LIBCLANG_PATH or the usual library folders. Not
# `libclang-cpp.so`, which LLVM installs without libclang and which an earlier check matched:
# the build then failed after 20 minutes with "Unable to find libclang".
has_libclang() {
    local dirs=()
    [[ -n "${LIBCLANG_PATH:-}" ]] && dirs+=("$LIBCLANG_PATH")
    dirs+=(/usr/lib/llvm-*/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib)
    local d f
    for d in "${dirs[@]}"; do
        for f in "$d"/libclang.so "$d"/libclang.so.* "$d"/libclang-[0-9]*.so*; do
            [[ -e "$f" ]] && return 0
        done
    done
    return 1
}

# Installs what the node's build needs and fails before the long build if it is still missing:
# protoc (libp2p) and libclang (bindgen for RocksDB).
prerequisites() {
    local missing=()
    command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
    has_libclang || missing+=(libclang-dev clang)
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2 \
            || { "${sudo[@]}" apt-get update -q >&2 && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2; }
    fi
    command -v protoc >/dev/null 2>&1 \
        || { log "protoc still missing after installing protobuf-compiler: install it, then rerun"; exit 1; }
    has_libclang \
        || { log "libclang still missing (bindgen needs libclang.so or libclang-N.so; libclang-cpp does not do): install libclang-dev or set LIBCLANG_PATH, then rerun"; exit 1; }
    log "prerequisites: protoc and libclang present"
}

install() {
    if present; then
        log "$NODE_BIN $NODE_VERSION: present ($(node_path))"
        return 0
    fi
    bash scripts/setup.sh >&2
    prerequisites
    # Build from the unpacked crate, so that the runtime's own Wasm build finds the crate's
    # Cargo.lock through WASM_BUILD_WORKSPACE_HINT and keeps substrate-bip39 at 0.6.0, which the
    # pinned toolchain can compile.
    local src="$HOME/.cache/ballast/contracts-node-$NODE_VERSION"
    if [[ ! -f "$src/Cargo.lock" ]]; then
        mkdir -p "$(dirname "$src")"
        log "fetching contracts-node $NODE_VERSION from crates.io"
        curl -sSfL "https://static.crates.io/crates/contracts-node/contracts-node-$NODE_VERSION.crate" \
            | tar -xz -C "$(dirname "$src")"
    fi
    log "building $NODE_BIN $NODE_VERSION (about 75 minutes on 2 cores)"
    WASM_BUILD_WORKSPACE_HINT="$src" CARGO_TARGET_DIR="$HOME/.cache/ballast/node-target" \
        cargo "+$TOOLCHAIN" install --path "$src" --locked --force >&2
    present || { log "install finished but '$NODE_BIN --version' does not say $NODE_VERSION"; exit 1; }
    log "installed $(node_path)"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

rpc_ready() {
    curl -s -m 2 -H 'Content-Type: application/json' \
        -d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' \
        "http://127.0.0.1:$PORT" 2>/dev/null | grep -q '"result"'
}

start() {
    present || { log "$NODE_BIN $NODE_VERSION is not installed: run scripts/node.sh install"; exit 1; }
    if running; then
        log "already running (pid $(cat "$PIDFILE")) on ws://127.0.0.1:$PORT"
        return 0
    fi
    mkdir -p "$DIR"
    local base="$DIR/db"
    [[ "${1:-}" == "--keep-db" ]] || rm -rf "$base"
    # --dev gives the well-known dev accounts; --base-path keeps the chain in our own folder,
    # deleted at the next start, so every start is a fresh chain.
    # Archive state: events of every block stay readable (the keeper's reconciliation scans
    # them from genesis); a dev chain is small.
    "$(node_path)" --dev --base-path "$base" --rpc-port "$PORT" --rpc-cors all \
        --state-pruning archive --blocks-pruning archive \
        --rpc-max-request-size 50 --rpc-max-response-size 50 >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 120); do
        if rpc_ready; then
            log "running (pid $(cat "$PIDFILE")) on ws://127.0.0.1:$PORT, log $LOG"
            return 0
        fi
        running || { log "the node exited; last lines of $LOG:"; tail -20 "$LOG" >&2; exit 1; }
        sleep 0.5
    done
    log "RPC did not answer within 60 s; log: $LOG"
    exit 1
}

stop() {
    halt
    rm -rf "$DIR/db"
}

halt() {
    if running; then
        local pid
        pid=$(cat "$PIDFILE")
        kill "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
        log "stopped (pid $pid)"
    else
        log "not running"
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    install) install ;;
    prerequisites) prerequisites ;;
    start) start ;;
    stop) stop ;;
    restart) halt; start --keep-db ;;
    present) present ;;
    status)
        if running; then echo "running pid $(cat "$PIDFILE") ws://127.0.0.1:$PORT"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: scripts/node.sh install|prerequisites|start|stop|restart|status|present" >&2; exit 2 ;;
esac
