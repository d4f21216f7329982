#!/usr/bin/env bash
# Benchmark (c): 1,000 HelmReleases of one 4-object chart from a HelmRepository over HTTP,
# installed by the helm controller (with the source controller) against the embedded API
# server. Prints wall time and the helm controller's peak RSS.
# Usage: tests/bench/helm_1000.sh [N] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gitops
cargo run -q -p gitops-tests --example bench_helm -- "$PWD/target/release/gitops" "${1:-1000}" "${2:-4}"
