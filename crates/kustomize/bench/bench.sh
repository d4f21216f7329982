#!/usr/bin/env bash
# Benchmark: gitops kustomize build vs kubectl kustomize on generated overlays.
#   crates/kustomize/bench/bench.sh [--with-kubectl-3000]
# Needs a release build (cargo build --release -p gitops) and ../shared/tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws=$(cd "$here/../../.." && pwd)
shared=${SHARED:-$ws/../shared}
bin=${GITOPS_BIN:-$ws/target/release/gitops}
kubectl=${KUBECTL:-$HOME/.cache/gitops-peers/kubectl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() { # label cmd... -> prints "label: seconds s, peak RSS KiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out.yaml"
  read -r secs rss < "$work/time"
  echo "$label: ${secs} s, peak RSS $((rss / 1024)) MiB"
  echo "$secs" > "$work/last"
}

for n in 500 3000; do
  python3 "$shared/tools/gen-big-kustomize.py" "$work/big$n" "$n"
done

# best of 5 for ours (N=500 is ~40 ms, dominated by noise)
best=999
for _ in 1 2 3 4 5; do
  measure "gitops N=500" "$bin" kustomize build "$work/big500/overlay" > /dev/null
  best=$(python3 -c "print(min($best, $(cat "$work/last")))")
done
cp "$work/out.yaml" "$work/ours500.yaml"
echo "gitops N=500: best ${best} s"
measure "gitops N=500 (rss run)" "$bin" kustomize build "$work/big500/overlay"
if [ -x "$kubectl" ]; then
  measure "kubectl kustomize N=500" "$kubectl" kustomize "$work/big500/overlay"
  k=$(cat "$work/last")
  cmp -s "$work/out.yaml" "$work/ours500.yaml" && echo "outputs: byte-identical" || echo "outputs: DIFFER"
  python3 -c "print('speedup N=500: %.0fx' % ($k / max($best, 0.001)))"
fi
measure "gitops N=3000" "$bin" kustomize build "$work/big3000/overlay"
if [ "${1:-}" = "--with-kubectl-3000" ] && [ -x "$kubectl" ]; then
  cp "$work/out.yaml" "$work/ours3000.yaml"
  measure "kubectl kustomize N=3000" "$kubectl" kustomize "$work/big3000/overlay"
  cmp -s "$work/out.yaml" "$work/ours3000.yaml" && echo "outputs: byte-identical" || echo "outputs: DIFFER"
fi
