#!/usr/bin/env bash
# Benchmark (notification): events per second through the event endpoint to a generic
# provider, and webhook receiver requests per second, against the embedded API server.
# Usage: tests/bench/notification.sh [events] [receiver requests]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gitops
cargo run -q -p gitops-tests --example bench_notification -- "$PWD/target/release/gitops" "${1:-10000}" "${2:-2000}"
