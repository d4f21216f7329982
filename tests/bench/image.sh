#!/usr/bin/env bash
# Benchmark: an image repository with N tags (default 10,000) in a local docker-registry,
# scanned and its policies computed, by the library and by the image-reflector-controller
# against the embedded API server. Prints timings and the controller's peak RSS. The
# setters benchmark (3,000 files) is crates/image-updater/examples/bench_setters.rs.
# Usage: tests/bench/image.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v docker-registry >/dev/null || { echo "needs docker-registry (apt-get install docker-registry)" >&2; exit 1; }
cargo build --release -q -p gitops
cargo run --release -q -p gitops-tests --example bench_image -- "$PWD/target/release/gitops" "${1:-10000}"
echo "--- setters"
cargo run --release -q -p gitops-image-updater --example bench_setters
