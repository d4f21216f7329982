#!/usr/bin/env bash
# Embedded API server benchmark: 10,000 ConfigMaps created by 4 concurrent clients while
# 10 watchers follow them, then full lists; reports writes/s, list latency and the
# server's peak RSS. The server runs as its own process (`gitops apiserver`).
#
#   crates/apiserver/bench/bench.sh [OBJECTS] [WRITERS] [WATCHERS]
#
# SERVER_FLAGS=--fsync-every-write measures the fsync-per-group mode (bound by the disk's
# fsync latency with few writers).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OBJECTS=${1:-10000}
WRITERS=${2:-4}
WATCHERS=${3:-10}
cargo build --release -q -p gitops
cargo build --release -q -p gitops-apiserver --example load
state=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$state"' EXIT
# shellcheck disable=SC2086
target/release/gitops apiserver --state "$state" --listen 127.0.0.1:0 ${SERVER_FLAGS:-} 2>"$state/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$state/kubeconfig" ] && break; sleep 0.1; done
target/release/examples/load --kubeconfig "$state/kubeconfig" --objects "$OBJECTS" --writers "$WRITERS" --watchers "$WATCHERS"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
echo "database: $(du -h "$state/state.redb" | cut -f1)"
