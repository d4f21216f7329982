#!/usr/bin/env bash
# Benchmark: the gitops CLI (a new process per command, median of 5) against N (default
# 1,000) Kustomizations and GitRepositories with status on `gitops apiserver`.
# Usage: tests/bench/cli.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gitops
cargo run --release -q -p gitops-tests --example bench_cli -- "$PWD/target/release/gitops" "${1:-1000}"
