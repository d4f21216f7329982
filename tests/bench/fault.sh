#!/usr/bin/env bash
# Fault test at full size: the API server and the source, kustomize and helm controllers
# run as separate `gitops` processes; 200 Kustomizations and 50 HelmReleases reconcile a
# repository and values that change every round, and each round one of the four processes
# is killed with SIGKILL at a random moment and restarted. Every round must converge with
# no acknowledged write lost, no object duplicated or wrongly pruned, and exact inventories.
# Usage: tests/bench/fault.sh [KUSTOMIZATIONS] [HELMRELEASES] [ROUNDS] [SEED]
# Figures (release build, 2 cores shared with a concurrent build, 2026-12-07, seed
# 1796664026412344482): 200 Kustomizations and 50 HelmReleases converged in 3.6 s; 20 of 20
# rounds converged and verified (8 API server kills, 5 source-controller, 5
# kustomize-controller, 2 helm-controller), each in 4.5-37.2 s. The rounds' time is the
# kustomize controller re-reconciling all 200 Kustomizations (about 10 a second here: each
# writes its objects and status durably) after a restart or a new commit; no round waits for
# the objects' 1m interval any more.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v git >/dev/null || { echo "needs git" >&2; exit 1; }
cargo build --release -q -p gitops
cargo run -q --release -p gitops-tests --example fault -- "$PWD/target/release/gitops" "${1:-200}" "${2:-50}" "${3:-20}" ${4:+"$4"}
