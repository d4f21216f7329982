#!/usr/bin/env bash
# Benchmark (b): 1,000 OCIRepositories on a local docker-registry reconciled to Ready by the
# source controller against the embedded API server. Prints wall time and peak RSS.
# Usage: tests/bench/oci_1000.sh [N] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v docker-registry >/dev/null || { echo "needs docker-registry (apt-get install docker-registry)" >&2; exit 1; }
cargo build --release -q -p gitops
cargo run -q -p gitops-tests --example bench_oci -- "$PWD/target/release/gitops" "${1:-1000}" "${2:-8}"
