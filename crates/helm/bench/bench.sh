#!/usr/bin/env bash
# Benchmark: render the whole visible helm conformance corpus with `gitops helm template`
# and with the real `helm template` in the same run (whole-process wall time), and compare
# the same, leaving out charts that generate RSA-4096 keys (genPrivateKey): both tools then
# spend seconds in prime search, which hides the rendering cost
all=("${cases[@]}")
cases=()
for c in "${all[@]}"; do
  IFS='|' read -r _ _ chart _ <<< "$c"
  grep -rqs genPrivateKey "$chart" || cases+=("$c")
done
t0=$(now); run_all "$gitops" helm; t1=$(now)
g2=$(echo "$t1 - $t0" | bc)
t0=$(now); run_all "$helm"; t1=$(now)
h2=$(echo "$t1 - $t0" | bc)
echo "without genPrivateKey charts: ${#cases[@]} renders"
printf 'gitops helm template: %.2f s\n' "$g2"
printf 'helm template:        %.2f s\n' "$h2"
printf 'speed-up:             %.1fx\n' "$(echo "$h2 / $g2" | bc -l)"

# peak RSS on the largest chart. Prints figures; asserts nothing.
#
#   crates/helm/bench/bench.sh [GITOPS_BIN] [HELM_BIN]
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
corpus="${CORPUS:-$root/../shared/conformance/helm}"
gitops="${1:-$root/target/release/gitops}"
helm="${2:-$HOME/.cache/gitops-peers/helm}"
[ -x "$gitops" ] || { echo "build first: cargo build --release -p gitops" >&2; exit 1; }
[ -x "$helm" ] || { echo "helm not found at $helm (../shared/tools/install-peers.sh)" >&2; exit 1; }
[ -d "$corpus" ] || { echo "corpus not found at $corpus" >&2; exit 1; }

# every case/variant as: release namespace chart [values]
cases=()
for c in "$corpus"/*/; do
  for v in "$c"variants/*/; do
    read -r rel ns < "$v/args"
    vf=""; [ -s "$v/values.yaml" ] && vf="$v/values.yaml"
    cases+=("$rel|$ns|${c}chart|$vf")
  done
done

run_all() { # the command (words) before `template`
  local c rel ns chart vf
  for c in "${cases[@]}"; do
    IFS='|' read -r rel ns chart vf <<< "$c"
    if [ -n "$vf" ]; then "$@" template "$rel" "$chart" --namespace "$ns" -f "$vf" >/dev/null 2>&1 || true
    else "$@" template "$rel" "$chart" --namespace "$ns" >/dev/null 2>&1 || true; fi
  done
}

now() { date +%s.%N; }
t0=$(now); run_all "$gitops" helm; t1=$(now)
g=$(echo "$t1 - $t0" | bc)
t0=$(now); run_all "$helm"; t1=$(now)
h=$(echo "$t1 - $t0" | bc)
echo "corpus: ${#cases[@]} renders"
printf 'gitops helm template: %.2f s\n' "$g"
printf 'helm template:        %.2f s\n' "$h"
printf 'speed-up:             %.1fx\n' "$(echo "$h / $g" | bc -l)"

# the same, leaving out charts that generate RSA-4096 keys (genPrivateKey): both tools then
# spend seconds in prime search, which hides the rendering cost
all=("${cases[@]}")
cases=()
for c in "${all[@]}"; do
  IFS='|' read -r _ _ chart _ <<< "$c"
  grep -rqs genPrivateKey "$chart" || cases+=("$c")
done
t0=$(now); run_all "$gitops" helm; t1=$(now)
g2=$(echo "$t1 - $t0" | bc)
t0=$(now); run_all "$helm"; t1=$(now)
h2=$(echo "$t1 - $t0" | bc)
echo "without genPrivateKey charts: ${#cases[@]} renders"
printf 'gitops helm template: %.2f s\n' "$g2"
printf 'helm template:        %.2f s\n' "$h2"
printf 'speed-up:             %.1fx\n' "$(echo "$h2 / $g2" | bc -l)"

# peak RSS on the largest chart (by size on disk)
big=$(du -s "$corpus"/*/chart | sort -n | tail -1 | cut -f2)
name=$(basename "$(dirname "$big")")
rss() { /usr/bin/time -f '%M' "$@" >/dev/null 2>/tmp/bench-rss.$$ || true; tail -1 /tmp/bench-rss.$$; }
gr=$(rss "$gitops" helm template rel "$big" --namespace bench)
hr=$(rss "$helm" template rel "$big" --namespace bench)
rm -f /tmp/bench-rss.$$
echo "largest chart: $name"
echo "peak RSS gitops: ${gr} KiB"
echo "peak RSS helm:   ${hr} KiB"
